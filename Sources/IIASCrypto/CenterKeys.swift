import Foundation
import IIASModel

/// A center's own keys and certificates, as `Scripts/pki.sh issue` lays them out in
/// `centers/<ID>/`: `signing.key/.crt`, `encryption.key/.crt`, `tls.key/.crt`,
/// `ca.crt`. Loading checks that each private key matches its certificate and that
/// both certificates name the same center, so a mixed-up folder fails at start-up,
/// not at the first message.
public struct CenterKeys: Sendable {
    public let center: CenterID
    public let signingKey: SigningPrivateKey
    public let signingCertificate: Certificate
    public let encryptionKey: EncryptionPrivateKey
    public let encryptionCertificate: Certificate
    public let directory: String

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
    }

    /// Checks both of this center's certificates against the trust anchor.
    public func verify(with trust: TrustAnchor, at time: Date = Date()) throws(CryptoError) {
        try trust.verify(signingCertificate, for: .signing, of: center, at: time)
        try trust.verify(encryptionCertificate, for: .encryption, of: center, at: time)
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
