import Foundation
import IIASLog

/// The body of a CHECKPOINT_GOSSIP frame (0x26): the newest checkpoints of other centers'
/// logs the sender cosigned, each a signed note with the log's signature and the sender's
/// cosignature. A receiver that witnesses the same log compares them with its own state,
/// so a log showing different histories to different witnesses is caught even when each
/// witness alone sees a consistent chain.
///
/// UTF-8: for each note, its length in bytes in decimal and a newline, then the note.
enum CheckpointGossip {
    /// Notes in one frame (one per log).
    static let maximumNotes = 64
    /// Bytes of one note (C2SP signed-note's bound).
    static let maximumNoteBytes = 64 << 10

    static func body(_ notes: [SignedNote]) -> [UInt8] {
        var out: [UInt8] = []
        for note in notes.prefix(maximumNotes) {
            let bytes = Array(note.text.utf8)
            out += Array("\(bytes.count)\n".utf8) + bytes
        }
        return out
    }

    /// Reads a body; nil when it is not one (a length that does not fit, a note that is not
    /// a checkpoint, too many notes).
    static func parse(_ body: [UInt8]) -> [SignedNote]? {
        var notes: [SignedNote] = []
        var position = 0
        while position < body.count {
            guard notes.count < maximumNotes, let newline = body[position...].firstIndex(of: 0x0A), newline - position <= 6,
                  let length = Int(String(decoding: body[position..<newline], as: UTF8.self)), (1...maximumNoteBytes).contains(length),
                  newline + 1 + length <= body.count,
                  let text = String(validating: body[(newline + 1)..<(newline + 1 + length)], as: UTF8.self),
                  let note = try? SignedNote(parsing: text), (try? note.checkpoint()) != nil else { return nil }
            notes.append(note)
            position = newline + 1 + length
        }
        return notes
    }
}
