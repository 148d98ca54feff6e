import Foundation

/// A center's earlier X25519 keys, kept after a rotation (`pki.sh rotate` moves them,
/// dated, under `centers/<ID>/history/`): envelopes sealed to an earlier encryption
/// certificate — queued at a sender before it learned the new one — and outbox summaries
/// sealed under an earlier key still open. Signing keys are not kept: a node signs only
/// with its current key, and its old signatures verify with the old certificates.
public enum PreviousKeys {
    /// The folder under a center's key folder that holds its earlier keys.
    public static let historyFolder = "history"

    /// Every `history/**/encryption.key` under `directory`, newest folder first; a
    /// folder without history gives none. A key file that does not load fails, naming it.
    public static func encryptionKeys(in directory: String, passphrase: [UInt8]? = nil) throws(CryptoError) -> [EncryptionPrivateKey] {
        let history = (directory as NSString).appendingPathComponent(historyFolder)
        guard let walker = FileManager.default.enumerator(atPath: history) else { return [] }
        var paths: [String] = []
        while let relative = walker.nextObject() as? String, paths.count < 1_000 {
            if (relative as NSString).lastPathComponent == "encryption.key" {
                paths.append((history as NSString).appendingPathComponent(relative))
            }
        }
        var keys: [EncryptionPrivateKey] = []
        for path in paths.sorted(by: >) {
            keys.append(try PrivateKeyFile.loadEncryptionKey(path, passphrase: passphrase))
        }
        return keys
    }
}
