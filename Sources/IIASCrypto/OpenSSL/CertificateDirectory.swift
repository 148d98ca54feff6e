import COpenSSL
import Foundation
import IIASModel

/// A folder of center certificates (`*.crt`, searched recursively), indexed by center
/// and purpose. It is what an auditor is handed (`pki.sh` writes
/// `centers/<ID>/{signing,encryption,tls,witness}.crt`, and keeps earlier ones under
/// `centers/<ID>/history/`) and what a node reads its peers from. A center may have any
/// number of certificates per purpose: the newest in force is the one to seal to, and
/// every one of them still verifies what its key signed. Loading trusts nothing: every
/// use still goes through `TrustAnchor.verify`.
public struct CertificateDirectory: CertificateSource {
    public let root: String
    /// Newest first (latest notBefore, then latest notAfter), each certificate once.
    private let index: [Key: [Certificate]]
    private struct Key: Hashable { let center: CenterID; let purpose: KeyPurpose }

    /// Upper bound on files read, so a wrong path (say `/`) fails instead of crawling.
    public static let maximumFiles = 10_000

    public init(_ root: String) throws(CryptoError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .io("certificate directory \(root) does not exist")
        }
        guard let walker = FileManager.default.enumerator(atPath: root) else {
            throw .io("cannot list certificate directory \(root)")
        }
        var index: [Key: [Certificate]] = [:]
        // One key, one purpose, one center: who each public key already speaks for.
        var keyOwners: [[UInt8]: (key: Key, path: String)] = [:]
        var seen = 0
        while let relative = walker.nextObject() as? String {
            seen += 1
            guard seen <= Self.maximumFiles else {
                throw .io("\(root) holds more than \(Self.maximumFiles) files; point at the certificates folder")
            }
            guard relative.hasSuffix(".crt") else { continue }
            let path = (root as NSString).appendingPathComponent(relative)
            let certificate = try Certificate(pemFile: path)
            guard !certificate.isCA else { continue }
            guard let center = certificate.centerID, let purpose = Self.purpose(of: certificate) else {
                throw .invalidCertificate("\(path) is not a center's certificate (no iias:center: name or no known purpose): remove it")
            }
            // centers/<ID>/… holds <ID>'s certificates only (its history included).
            if let folder = relative.split(separator: "/").first, relative.contains("/"), let owner = CenterID(String(folder)), owner != center {
                throw .invalidCertificate("\(path) is \(center)'s certificate in \(owner)'s folder: move it to \(center)'s")
            }
            let key = Key(center: center, purpose: purpose)
            let identity = certificate.publicKeyIdentity
            if let owner = keyOwners[identity], owner.key != key {
                throw .invalidCertificate("\(path) certifies the same public key as \(owner.path) for another center or purpose "
                    + "(one key, one purpose): the CA must not have issued both; remove the wrong one")
            }
            keyOwners[identity] = (key, path)
            // The same certificate in two places (a copy) counts once.
            guard !(index[key]?.contains { $0.fingerprint == certificate.fingerprint } ?? false) else { continue }
            index[key, default: []].append(certificate)
        }
        for key in index.keys {
            index[key]!.sort { ($0.notBefore, $0.notAfter) > ($1.notBefore, $1.notAfter) }
        }
        self.root = root
        self.index = index
    }

    /// The newest certificate already in force (notBefore passed), else the newest.
    public func certificate(of center: CenterID, for purpose: KeyPurpose) -> Certificate? {
        guard let all = index[Key(center: center, purpose: purpose)] else { return nil }
        let now = Date()
        return all.first { $0.notBefore <= now } ?? all.first
    }

    public func certificates(of center: CenterID, for purpose: KeyPurpose) -> [Certificate] {
        index[Key(center: center, purpose: purpose)] ?? []
    }

    /// Every certificate here, by fingerprint: what a rescan compares to see a change.
    public var fingerprints: Set<[UInt8]> { Set(index.values.joined().map(\.fingerprint)) }

    /// Every center with at least one certificate here, sorted.
    public var centers: [CenterID] { Array(Set(index.keys.map(\.center))).sorted() }

    /// The purpose a certificate's key type and usage declare (verification re-checks it).
    static func purpose(of certificate: Certificate) -> KeyPurpose? {
        switch certificate.keyType {
        case EVP_PKEY_X25519: return .encryption
        case EVP_PKEY_ED25519, EVP_PKEY_EC:
            if certificate.extendedKeyUsage != nil { return .tls }
            // Ed25519 without nonRepudiation: the witness key (a signing key has it).
            let usage = certificate.keyUsage ?? 0
            return certificate.keyType == EVP_PKEY_ED25519 && usage & UInt32(KU_NON_REPUDIATION) == 0 && usage != 0 ? .witness : .signing
        default: return nil
        }
    }
}
