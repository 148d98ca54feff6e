import Foundation
import IIASCrypto
import IIASLog

/// A node's witness: for each peer log, the latest checkpoint it cosigned, read from and
/// written to its ``WitnessFolder`` (and, for the node as a log, the cosignatures it keeps). An actor so that one decision at a time reads the
/// stored state, decides and persists (the compare-and-swap C2SP tlog-witness asks for:
/// two requests of one log never both cosign from the same old state), and so that the
/// fsync runs here, off the node's actor and off the event loops.
actor WitnessDesk {
    let folder: WitnessFolder
    /// States read so far, by the center whose log they are (nil: none stored).
    private var states: [String: WitnessState?] = [:]

    init(folder: WitnessFolder) { self.folder = folder }

    /// What became of a request once decided and, for a cosignature or a split view, kept.
    enum Outcome: Sendable {
        /// The new state is durable; answer with its cosignature.
        case cosigned(WitnessState)
        /// The evidence is durable at `path` (`new`: not kept before); never cosign.
        case splitView(SplitViewEvidence, path: String, new: Bool)
        /// Any other answer (a refusal or a conflict): nothing changed.
        case answered(WitnessDecision)
    }

    /// Decides `request` against the stored state of `center`'s log and persists what the
    /// decision asks to keep before returning.
    /// - Throws: when the stored state cannot be read or the new one cannot be written
    ///   (the witness then answers 500 and cosigns nothing).
    func decide(_ request: AddCheckpointRequest, logOf center: String, logKeys: [SigningPublicKey], now: UInt64) throws -> Outcome {
        let stored = try state(of: center)
        let decision = WitnessState.addCheckpoint(request, stored: stored, logKeys: logKeys, now: now)
        switch decision {
        case .cosign(let state):
            try folder.save(state, ofLog: center)
            states[center] = .some(state)
            return .cosigned(state)
        case .splitView(let evidence):
            let (path, new) = try folder.keep(evidence)
            return .splitView(evidence, path: path, new: new)
        case .conflict, .refuse:
            return .answered(decision)
        }
    }

    /// Keeps our checkpoint as `center` cosigned it (as a log), durably, off the node's actor.
    func keepCosigned(_ note: SignedNote, by center: String) throws {
        try folder.saveCosigned(note, by: center)
    }

    /// Makes `state` (a checkpoint this witness cosigned, shown back by the log) the stored
    /// one when the stored tree is smaller: the state was rolled back. Returns the size held
    /// before (0 for none), nil when nothing changed.
    func adopt(_ state: WitnessState, ofLog center: String) throws -> UInt64? {
        let held = try self.state(of: center)?.checkpoint.treeSize ?? 0
        guard held < state.checkpoint.treeSize else { return nil }
        try folder.save(state, ofLog: center)
        states[center] = .some(state)
        return held
    }

    /// The state held of `center`'s log, from memory once read (nil: none, or unreadable).
    func held(_ center: String) -> WitnessState? { (try? state(of: center)) ?? nil }

    private func state(of center: String) throws -> WitnessState? {
        if let known = states[center] { return known }
        let read = try folder.state(ofLog: center)
        states[center] = .some(read)
        return read
    }
}
