/// Per-type ceilings on a frame's length, below the connection's maximum.
///
/// Why: a witness exchange carries one checkpoint note (at most 64 KiB by C2SP
/// signed-note) and at most 63 proof hashes; a peer announcing more is refused from the
/// 5-byte header, before a body byte is buffered, whatever the connection allows for envelopes.
extension FrameType {
    /// Largest `length` (type + body) of a WITNESS_REQUEST: "old " and 20 digits, 63 proof
    /// lines of 45 bytes, the empty line and a 64 KiB note fit with room to spare, so that
    /// a note a little over 64 KiB or a 64th proof line still reaches the witness, which
    /// answers it with the specification's 400.
    public static let maximumWitnessRequestLength: UInt32 = 72 << 10
    /// Largest `length` of a WITNESS_RESPONSE: a status line and a few cosignature lines.
    public static let maximumWitnessResponseLength: UInt32 = 4 << 10

    /// The ceiling of this type's frames, nil where only the connection's maximum applies.
    public var maximumLength: UInt32? {
        switch self {
        case .witnessRequest: Self.maximumWitnessRequestLength
        case .witnessResponse: Self.maximumWitnessResponseLength
        case .receiptProof: 2 << 20
        case .receiptProofAck: 9
        default: nil
        }
    }
}
