import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel

// History alarms and their acknowledgement. An alarm stays as long as what raised it (an
// evidence file, the restore found); an operator who dealt with it acknowledges it with a
// note, so that monitoring (`iias status --check-history`) shows the next one instead of
// staying red for ever. Acknowledgements are kept in DATA/alarms/acknowledged.json and
// logged as operator actions.
extension Node {
    private var acknowledgementsPath: String { configuration.dataDirectory + "/alarms/acknowledged.json" }

    /// Every alarm held, each with its key and, once set aside, its acknowledgement.
    public func alarms() -> [HistoryAlarm] {
        let acknowledged = acknowledgements()
        let splitViews = witnessFolder.evidenceFiles().map { path in
            HistoryAlarm(kind: .splitView, center: splitViewLog(path) ?? center,
                         detail: "a peer's log signed two checkpoints that cannot both be true", evidence: path)
        }
        return (splitViews + historyAlarms()).map { alarm in
            var keyed = alarm
            keyed.key = Self.key(of: alarm)
            keyed.acknowledged = acknowledged[keyed.key ?? ""]
            return keyed
        }
    }

    public func acknowledgeAlarm(_ key: String, note: String, by actor: LocalUser) async throws(NodeError) -> HistoryAlarm {
        guard actor.role == .operator else { throw .forbidden("\(actor.user) is an auditor; only operators acknowledge alarms") }
        guard var alarm = alarms().first(where: { $0.key == key }) else { throw .unknownAlarm(key) }
        if alarm.acknowledged != nil { return alarm }
        let acknowledgement = AlarmAcknowledgement(alarm: key, user: actor.user, uid: actor.uid, note: note, at: Date())
        do {
            _ = try await append(.operatorAction, acknowledgement.encoded())
            var all = acknowledgements()
            all[key] = acknowledgement
            try FileManager.default.createDirectory(atPath: configuration.dataDirectory + "/alarms", withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            try DurableFile.write(Array(try APIJSON.encoder().encode(all.values.sorted { $0.alarm < $1.alarm })), to: acknowledgementsPath)
            history.acknowledged = all
        } catch {
            throw .unavailable("cannot keep the acknowledgement: \(error)")
        }
        logger.notice("history alarm acknowledged", metadata: ["alarm": "\(key)", "user": "\(actor.user)", "uid": "\(actor.uid)"])
        alarm.acknowledged = acknowledgement
        return alarm
    }

    /// The acknowledgements kept, by alarm key (read once, then held).
    private func acknowledgements() -> [String: AlarmAcknowledgement] {
        if let known = history.acknowledged { return known }
        var read: [String: AlarmAcknowledgement] = [:]
        if let bytes = try? DurableFile.read(acknowledgementsPath, limit: 16 << 20),
           let list = try? APIJSON.decoder().decode([AlarmAcknowledgement].self, from: Data(bytes)) {
            for acknowledgement in list { read[acknowledgement.alarm] = acknowledgement }
        }
        history.acknowledged = read
        return read
    }

    /// The key the alarm was raised with, else "split-view/FILE.json", "equivocation/AZ-….json",
    /// or the kind and a digest of the detail when no file stands for the alarm (a restore,
    /// a rolled-back witness).
    static func key(of alarm: HistoryAlarm) -> String {
        if let key = alarm.key { return key }
        guard let evidence = alarm.evidence, alarm.kind != .logRestored else {
            return alarm.kind.rawValue + "/" + Array(SHA256.hash(Array(alarm.detail.utf8)).prefix(8)).hexString
        }
        return alarm.kind.rawValue + "/" + (evidence as NSString).lastPathComponent
    }

    /// The center whose log a split-view evidence file is about, from the origin in it;
    /// read once a file (evidence is never overwritten), not at every status.
    private func splitViewLog(_ path: String) -> CenterID? {
        if let known = history.splitViewLogs[path] { return known }
        guard let bytes = try? DurableFile.read(path, limit: WitnessFolder.maximumFileBytes),
              let origin = (try? SplitViewEvidence(file: bytes ?? []))?.origin,
              let log = Checkpoint.logOrigin(origin).flatMap({ CenterID($0.center) }) else { return nil }
        history.splitViewLogs[path] = log
        return log
    }
}
