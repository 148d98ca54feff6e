import Foundation
import IIASModel

/// What identifies an envelope from a peer: its sender and its id, never the id alone.
/// Ids are chosen by the sender (an operator may even give one in a draft), so one center
/// can use an id another center already used; keyed on both, an envelope from one center
/// can never shadow another center's. Written `AZ/3f2a…` for people (`description`).
public struct EnvelopeKey: Hashable, Sendable, CustomStringConvertible {
    public let sender: CenterID
    public let id: UUID

    public init(sender: CenterID, id: UUID) { (self.sender, self.id) = (sender, id) }

    /// `SENDER/id`, the form the CLI accepts back (`iias read AZ/3f2a…`).
    public var description: String { "\(sender.rawValue)/\(id.uuidString.lowercased())" }
}
