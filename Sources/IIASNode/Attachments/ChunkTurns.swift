import Foundation

/// When a link may write attachment chunks, as a value: envelopes go first — a chunk
/// never goes while an envelope waits — except that chunks are owed a turn after every
/// `envelopesPerTurn` envelopes written, or once `maxWait` seconds passed since their last
/// turn while envelopes kept waiting. A steady stream of envelopes would otherwise hold
/// an attachment back for as long as it lasts. A turn writes at most the sender's window
/// of chunks, after the envelopes of the same write, so what a flash notification may
/// find ahead of it is never more than that window, turn or not. No clock: times are
/// passed in, so every rule is tested without a link.
struct ChunkTurns: Sendable {
    /// Envelopes written since the chunks' last turn after which they get one.
    let envelopesPerTurn: Int
    /// Seconds with envelopes waiting after which the chunks get a turn.
    let maxWait: Double
    private var envelopesSinceTurn = 0
    /// When chunks last went, or when envelopes began to hold them back.
    private var lastTurn: Date?

    init(envelopesPerTurn: Int = 64, maxWait: Double = 0.1) {
        self.envelopesPerTurn = max(1, envelopesPerTurn)
        self.maxWait = maxWait
    }

    /// Whether chunks may be written now, with `envelopesWaiting` (queued or unanswered)
    /// after what is being written.
    func chunksMayGo(envelopesWaiting: Bool, now: Date) -> Bool {
        guard envelopesWaiting else { return true }
        if envelopesSinceTurn >= envelopesPerTurn { return true }
        guard let lastTurn else { return false }
        return now.timeIntervalSince(lastTurn) >= maxWait
    }

    /// What one write carried: `envelopes` envelopes and `chunks` chunks at `now`, with
    /// `envelopesWaiting` afterwards.
    mutating func wrote(envelopes: Int, chunks: Int, envelopesWaiting: Bool, now: Date) {
        if chunks > 0 {
            envelopesSinceTurn = 0
            lastTurn = now
        } else {
            envelopesSinceTurn += envelopes
        }
        // Idle envelopes start no clock: the wait counts from when they began to hold chunks back.
        if !envelopesWaiting { lastTurn = nil } else if lastTurn == nil { lastTurn = now }
    }
}
