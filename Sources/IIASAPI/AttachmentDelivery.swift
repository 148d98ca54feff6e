/// One attachment of a notification this node sent and where each recipient stands
/// (`GET /v1/attachments?envelope=`): shared by the node that answers and the CLI that shows it.
public struct AttachmentDelivery: Codable, Sendable {
    /// One recipient: `waiting`, `waiting: C holds n% and takes no more yet`, `transferring n%`,
    /// `delivered` or `refused: why`.
    public struct Recipient: Codable, Sendable {
        public var center: String
        public var state: String
        public init(center: String, state: String) { self.center = center; self.state = state }
    }
    /// The commitment (hex) naming the attachment.
    public var root: String
    /// Plaintext bytes.
    public var bytes: Int
    public var recipients: [Recipient]
    public var chunkSize: Int?
    public var chunkCount: Int?
    /// Where the sender keeps the ciphertext.
    public var storedPath: String?

    public init(root: String, bytes: Int, recipients: [Recipient], chunkSize: Int?, chunkCount: Int?, storedPath: String?) {
        self.root = root
        self.bytes = bytes
        self.recipients = recipients
        self.chunkSize = chunkSize
        self.chunkCount = chunkCount
        self.storedPath = storedPath
    }
}
