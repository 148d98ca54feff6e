import Foundation
import IIASAPI
import IIASCrypto

extension Node {
    /// Every `certificateRescanSeconds`, reloads the trust (CA, CRL, certificates, our
    /// keys) as SIGHUP would, when any of it changed on disk: a peer's rotated
    /// certificates, a new CRL or our own rotated keys are picked up unattended. A reload
    /// that fails keeps the trust in force and is logged, as a failed SIGHUP is.
    func rescanLoop() async {
        trustFilesSeen = trustFilesState()
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(configuration.certificateRescanSeconds))
            if Task.isCancelled || stopping { return }
            await applyTrustFilesIfChanged()
        }
    }

    /// An envelope's signer is unknown to us: reads the trust files again if they changed,
    /// at most once every `trustLookInterval` (so a peer sending garbage cannot make us
    /// read the folder for every envelope). True when new trust is in force.
    func refreshTrustIfChanged() async -> Bool {
        guard Date().timeIntervalSince(lastTrustLook) >= Self.trustLookInterval else { return false }
        lastTrustLook = Date()
        return await applyTrustFilesIfChanged()
    }

    static let trustLookInterval: TimeInterval = 5

    @discardableResult
    private func applyTrustFilesIfChanged() async -> Bool {
        let now = trustFilesState()
        guard now != trustFilesSeen else { return false }
        trustFilesSeen = now
        do {
            try await reload(configuration)
            return true
        } catch {
            logger.error("rescan: the changed certificates, CRL or keys were not applied", metadata: ["problem": "\(error)"])
            return false
        }
    }

    /// Size and modification time of every file the trust is built from.
    func trustFilesState() -> [String: [Double]] {
        var state: [String: [Double]] = [:]
        func note(_ path: String) {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return }
            state[path] = [(attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0, Double((attributes[.size] as? Int) ?? 0)]
        }
        note(configuration.caFile)
        if let crl = configuration.crlFile { note(crl) }
        for folder in Set([configuration.certificateDirectory, configuration.keyDirectory]) {
            guard let walker = FileManager.default.enumerator(atPath: folder) else { continue }
            var count = 0
            while let relative = walker.nextObject() as? String, count < CertificateDirectory.maximumFiles {
                count += 1
                if relative.hasSuffix(".crt") || relative.hasSuffix(".key") { note((folder as NSString).appendingPathComponent(relative)) }
            }
        }
        return state
    }
}
