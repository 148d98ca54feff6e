import Foundation
import IIASModel

/// A center's own keys and certificates, as `Scripts/pki.sh issue` lays them out in
/// `centers/<ID>/`: `signing.key/.crt`, `encryption.key/.crt`, `tls.key/.crt`,
/// `witness.key/.crt`, `ca.crt`. Loading checks that each private key matches its
/// certificate and that the certificates name the same center, so a mixed-up folder
/// fails at start-up, not at the first message.
///
/// The witness pair is optional: folders issued before witness keys existed have none,
/// and such a node still starts (it just cannot cosign its peers' checkpoints). Half a
/// pair — a key without its certificate or the reverse — is refused.
public struct CenterKeys: Sendable {
    public let center: CenterID
    public let signingKey: SigningPrivateKey
    public let signingCertificate: Certificate
    public let encryptionKey: EncryptionPrivateKey
    public let encryptionCertificate: Certificate
    /// The key that cosigns peers' checkpoints; nil in folders issued before it existed.
    public let witnessKey: SigningPrivateKey?
    public let witnessCertificate: Certificate?
    public let directory: String

    /// File names of the witness pair in a center's key folder.
    public static let witnessKeyFile = "witness.key", witnessCertificateFile = "witness.crt"

    /// Whether `directory` holds a witness key or certificate (loading checks the pair).
    public static func hasWitnessKey(in directory: String) -> Bool {
        [witnessKeyFile, witnessCertificateFile].contains {
            FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent($0))
        }
    }

    /// - Parameter passphrase: for passphrase-protected key files; wiped by the caller.
    public init(directory: String, passphrase: [UInt8]? = nil) throws(CryptoError) {
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        signingCertificate = try Certificate(pemFile: path("signing.crt"))
        encryptionCertificate = try Certificate(pemFile: path("encryption.crt"))
        signingKey = try PrivateKeyFile.loadSigningKey(path("signing.key"), passphrase: passphrase)
        encryptionKey = try PrivateKeyFile.loadEncryptionKey(path("encryption.key"), passphrase: passphrase)
        guard try signingCertificate.signingPublicKey() == signingKey.publicKey else {
            throw .invalidKey("\(path("signing.key")) does not match \(path("signing.crt"))")
        }
        guard try encryptionCertificate.encryptionPublicKey() == encryptionKey.publicKey else {
            throw .invalidKey("\(path("encryption.key")) does not match \(path("encryption.crt"))")
        }
        guard let center = signingCertificate.centerID else {
            throw .invalidCertificate("\(path("signing.crt")) names no center (SAN URI iias:center:ID)")
        }
        guard encryptionCertificate.centerID == center else {
            throw .invalidCertificate("\(path("encryption.crt")) names another center than \(path("signing.crt"))")
        }
        self.center = center
        self.directory = directory
        (witnessKey, witnessCertificate) = try Self.loadWitness(directory: directory, center: center, passphrase: passphrase)
    }

    private static func loadWitness(directory: String, center: CenterID, passphrase: [UInt8]?)
        throws(CryptoError) -> (SigningPrivateKey?, Certificate?) {
        guard hasWitnessKey(in: directory) else { return (nil, nil) }
        let keyPath = (directory as NSString).appendingPathComponent(witnessKeyFile)
        let certificatePath = (directory as NSString).appendingPathComponent(witnessCertificateFile)
        for (path, other) in [(keyPath, certificatePath), (certificatePath, keyPath)] where !FileManager.default.fileExists(atPath: path) {
            throw .invalidKey("\(other) has no partner \(path): a witness key needs both (pki.sh rotate DIR \(center) --keys witness makes a new pair)")
        }
        let certificate = try Certificate(pemFile: certificatePath)
        let key = try PrivateKeyFile.loadSigningKey(keyPath, passphrase: passphrase)
        guard try certificate.signingPublicKey() == key.publicKey else {
            throw .invalidKey("\(keyPath) does not match \(certificatePath)")
        }
        guard certificate.centerID == center else {
            throw .invalidCertificate("\(certificatePath) names another center than the signing certificate")
        }
        return (key, certificate)
    }

    /// Checks this center's certificates (the witness's too, when present) against the trust anchor.
    public func verify(with trust: TrustAnchor, at time: Date = Date()) throws(CryptoError) {
        try trust.verify(signingCertificate, for: .signing, of: center, at: time)
        try trust.verify(encryptionCertificate, for: .encryption, of: center, at: time)
        if let witnessCertificate { try trust.verify(witnessCertificate, for: .witness, of: center, at: time) }
    }
}

extension CertificateSource {
    /// The verified encryption keys of `recipients`, for sealing. Fails on the first
    /// recipient without a trusted encryption certificate, naming it.
    public func encryptionKeys(for recipients: [CenterID], trust: TrustAnchor, at time: Date = Date()) throws(CryptoError) -> [CenterID: EncryptionPublicKey] {
        var keys: [CenterID: EncryptionPublicKey] = [:]
        for recipient in recipients {
            guard let certificate = certificate(of: recipient, for: .encryption) else {
                throw .invalidCertificate("no encryption certificate for \(recipient)")
            }
            try trust.verify(certificate, for: .encryption, of: recipient, at: time)
            keys[recipient] = try certificate.encryptionPublicKey()
        }
        return keys
    }
}
