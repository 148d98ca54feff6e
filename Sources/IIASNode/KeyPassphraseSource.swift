import Foundation
import IIASAPI
import IIASCrypto

/// Where the passphrase of the center's passphrase-protected key files comes from:
/// a file the configuration names (`keyPassphraseFile`), or a systemd credential
/// (`keyPassphraseCredential`: the file of that name in `$CREDENTIALS_DIRECTORY`,
/// which `LoadCredential=` fills and only the service can read). Never the
/// configuration itself, the environment or a command line, which other accounts
/// and logs see. The file is checked like the keys (owner-only) and read into a
/// buffer the caller wipes; only its first line counts, as for `openssl -pass file:`.
public enum KeyPassphraseSource: Sendable, Equatable, CustomStringConvertible {
    case file(String)
    case credential(String)

    /// The configuration key each case comes from.
    public var key: String {
        switch self {
        case .file: "keyPassphraseFile"
        case .credential: "keyPassphraseCredential"
        }
    }

    public var description: String {
        switch self {
        case .file(let path): path
        case .credential(let name): "systemd credential \(name)"
        }
    }

    /// The file that holds the passphrase in `environment`.
    public func path(environment: [String: String] = ProcessInfo.processInfo.environment) throws(NodeConfiguration.Problem) -> String {
        switch self {
        case .file(let path):
            return path
        case .credential(let name):
            guard let folder = environment["CREDENTIALS_DIRECTORY"], !folder.isEmpty else {
                throw .init(key: key, message: "$CREDENTIALS_DIRECTORY is not set: systemd sets it for a unit with LoadCredential=\(name):/path/to/passphrase (see Scripts/iias-node.service); outside systemd use keyPassphraseFile")
            }
            return (folder as NSString).appendingPathComponent(name)
        }
    }

    /// The passphrase bytes; the caller wipes them (`wipeSecret`). Errors name the file
    /// and never include any of its content.
    public func read(environment: [String: String] = ProcessInfo.processInfo.environment) throws(NodeConfiguration.Problem) -> [UInt8] {
        let file = try path(environment: environment)
        do { return try SecretFile.readPassphrase(file) } catch {
            throw .init(key: key, message: "\(error)")
        }
    }

    /// A credential name as systemd takes it: one path component.
    static func isValidCredentialName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && name.utf8.count <= 255
    }
}
