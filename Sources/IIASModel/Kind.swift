/// What a notification does in a conversation; it decides which links it must carry.
public enum Kind: String, Codable, Sendable, CaseIterable {
    /// Information pushed to the recipients; no answer expected.
    case notification
    /// Asks the recipients for information or action; must carry `responseDeadline`.
    case request
    /// Answers the notification named by `inReplyTo`, which it must carry.
    case reply
    /// Adds to or corrects the notifications named by `references`, which it must carry.
    case update
    /// Withdraws the notifications named by `references`, which it must carry.
    case cancellation
}
