/// Why a key, certificate or envelope was refused. Each case names the check that
/// failed, so that an operator or auditor knows what to fix or whom to distrust.
public enum CryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A key file or raw key could not be used (wrong type, size, passphrase, format).
    case invalidKey(String)
    /// A certificate file could not be parsed, or a certificate failed a check.
    case invalidCertificate(String)
    /// A file could not be read.
    case io(String)

    public var description: String {
        switch self {
        case .invalidKey(let why): return "invalid key: \(why)"
        case .invalidCertificate(let why): return "certificate refused: \(why)"
        case .io(let why): return why
        }
    }
}
