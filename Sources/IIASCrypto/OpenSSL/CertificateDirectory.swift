import COpenSSL
import Foundation
import IIASModel

/// A folder of center certificates (`*.crt`, searched recursively), indexed by center
/// and purpose. It is what an auditor is handed (`pki.sh` writes
/// `centers/<ID>/{signing,encryption,tls}.crt`) and what a node reads its peers from.
/// Loading trusts nothing: every use still goes through `TrustAnchor.verify`.
public struct CertificateDirectory: CertificateSource {
    public let root: String
    private let index: [Key: Certificate]
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
        var index: [Key: Certificate] = [:]
        var seen = 0
        while let relative = walker.nextObject() as? String {
            seen += 1
            guard seen <= Self.maximumFiles else {
                throw .io("\(root) holds more than \(Self.maximumFiles) files; point at the certificates folder")
            }
            guard relative.hasSuffix(".crt") else { continue }
            let path = (root as NSString).appendingPathComponent(relative)
            guard let certificate = try? Certificate(pemFile: path), !certificate.isCA,
                  let center = certificate.centerID, let purpose = Self.purpose(of: certificate) else { continue }
            let key = Key(center: center, purpose: purpose)
            // When a center has been re-issued, prefer the certificate that expires last.
            if let existing = index[key], existing.notAfter >= certificate.notAfter { continue }
            index[key] = certificate
        }
        self.root = root
        self.index = index
    }

    public func certificate(of center: CenterID, for purpose: KeyPurpose) -> Certificate? {
        index[Key(center: center, purpose: purpose)]
    }

    /// Every center with at least one certificate here, sorted.
    public var centers: [CenterID] { Array(Set(index.keys.map(\.center))).sorted() }

    /// The purpose a certificate's key type and usage declare (verification re-checks it).
    static func purpose(of certificate: Certificate) -> KeyPurpose? {
        switch certificate.keyType {
        case EVP_PKEY_X25519: return .encryption
        case EVP_PKEY_ED25519, EVP_PKEY_EC:
            return certificate.extendedKeyUsage == nil ? .signing : .tls
        default: return nil
        }
    }
}
