import Foundation

/// When a link may write attachment chunks, and how many, as a value. Envelopes go first:
/// no chunk goes while an envelope waits (queued or unanswered), except that chunks are
/// owed a turn after every `envelopesPerTurn` envelopes written, or once `maxWait` seconds
/// passed since their last turn while envelopes kept waiting — a steady stream of
/// envelopes would otherwise hold an attachment back for as long as it lasts. For
/// `quietAfterEnvelopes` seconds after an envelope was written, even with none waiting,
/// chunks go only in their turns and `trickle` at a time: the next flash notification,
/// likely soon after the last, then finds at most that on the wire and on the
/// recipient's disk (each chunk written there is fsynced beside the log). A turn writes
/// at most the sender's window, after the envelopes of the same write.
///
/// What is unacknowledged and what is queued are counted apart: the sender's window
/// bounds the chunks the recipient has not acknowledged (they may be on the wire or in
/// its queue, and a large window keeps the link busy), while at most `maxQueued` chunks
/// are written to the channel and not yet handed to the socket. A chunk is written only
/// once the previous write completed, so an envelope written at any moment waits behind
/// about one chunk in the connection, never a whole window. No clock: times are passed
/// in, and completions reported, so every rule is tested without a link.
struct ChunkTurns: Sendable {
    /// Envelopes written since the chunks' last turn after which they get one.
    let envelopesPerTurn: Int
    /// Seconds with envelopes waiting after which the chunks get a turn.
    let maxWait: Double
    /// Seconds after an envelope was written during which chunks go `trickle` at a time.
    let quietAfterEnvelopes: Double
    let trickle: Int
    private var envelopesSinceTurn = 0
    /// When chunks last went, or when envelopes began to hold them back.
    private var lastTurn: Date?
    private var lastEnvelope: Date?

    /// Chunks that may be written to the channel and not yet handed to the socket, and
    /// how many are (written, their write not completed).
    let maxQueued: Int
    private(set) var queued = 0

    init(envelopesPerTurn: Int = 64, maxWait: Double = 0.1, quietAfterEnvelopes: Double = 0.5, trickle: Int = 1, maxQueued: Int = 1) {
        self.maxQueued = max(1, maxQueued)
        self.envelopesPerTurn = max(1, envelopesPerTurn)
        self.maxWait = maxWait
        self.quietAfterEnvelopes = quietAfterEnvelopes
        self.trickle = max(1, trickle)
    }

    /// How many chunks may be written now (`Int.max`: as many as the window allows), with
    /// `envelopesWaiting` (queued or unanswered) after what is being written.
    func chunksAllowed(envelopesWaiting: Bool, now: Date) -> Int {
        let recent = isRecent(now)
        guard envelopesWaiting || recent else { return .max }
        let owed = envelopesSinceTurn >= envelopesPerTurn || lastTurn.map { now.timeIntervalSince($0) >= maxWait } == true
        guard owed else { return 0 }
        return envelopesWaiting ? .max : trickle
    }

    /// How many chunks to write now: what their turn allows, within the room left in the
    /// channel (0 while `maxQueued` writes have not completed).
    func chunksToWrite(envelopesWaiting: Bool, now: Date) -> Int {
        min(max(0, maxQueued - queued), chunksAllowed(envelopesWaiting: envelopesWaiting, now: now))
    }

    /// `count` chunk writes completed (handed to the socket, or failed with their connection).
    mutating func chunksWritten(_ count: Int) { queued = max(0, queued - count) }

    private func isRecent(_ now: Date) -> Bool { lastEnvelope.map { now.timeIntervalSince($0) < quietAfterEnvelopes } == true }

    /// What one write carried: `envelopes` envelopes and `chunks` chunks at `now`, with
    /// `envelopesWaiting` afterwards.
    mutating func wrote(envelopes: Int, chunks: Int, envelopesWaiting: Bool, now: Date) {
        if envelopes > 0 { lastEnvelope = now }
        queued += chunks
        if chunks > 0 {
            envelopesSinceTurn = 0
            lastTurn = now
        } else {
            envelopesSinceTurn += envelopes
        }
        // Idle envelopes start no clock: the wait counts from when they began to hold chunks back.
        if !envelopesWaiting && !isRecent(now) { lastTurn = nil } else if lastTurn == nil { lastTurn = now }
    }
}
