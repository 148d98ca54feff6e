import Foundation
import IIASAPI
import IIASCrypto

extension OperatorAction {
    /// A submission's summary from either form a log holds, nil when neither opens: under
    /// `key` (the node's outbox-summary key), or sealed to `legacyKey` (older entries).
    public func summary(key: SelfSealingKey, legacyKey: EncryptionPrivateKey) -> OutboxSummary? {
        let plain: [UInt8]?
        if let encryptedSummary {
            plain = key.open(Array(encryptedSummary), associatedData: OutboxSummary.associatedData(for: envelope))
        } else {
            plain = sealedSummary.flatMap { legacyKey.open(Array($0)) }
        }
        // The API's decoder reads `responseDeadline` as the RFC 3339 text `json` writes.
        return plain.flatMap { try? APIJSON.decoder().decode(OutboxSummary.self, from: Data($0)) }
    }
}
