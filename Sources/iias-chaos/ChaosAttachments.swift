import Foundation
import IIASTestSupport

/// One file sent during a scenario: which notification carries it, to whom, and where
/// the original lies (the recipient's saved copy must equal it byte for byte).
struct SentAttachment: Sendable {
    var id: String
    var recipient: String
    var original: String
}

/// How the files of a scenario ended at their recipients.
struct AttachmentTally: Codable {
    var sent: Int
    /// Complete at the recipient and saved (opened, root and SHA-256 checked) identical to the original.
    var identical: Int
    /// Not complete within the wait.
    var lost: Int
    /// Complete but saved different from the original, or refused on saving.
    var corrupt: Int

    var isWhole: Bool { lost == 0 && corrupt == 0 && identical == sent }
    var text: String { "\(sent) sent, \(identical) complete and identical, \(lost) lost, \(corrupt) corrupt" }
}

/// Sends `count` files of 2 to 4 MiB, each from a random center to another, with
/// `iias send --attach`; a send that fails (its node killed) is tried again.
func sendAttachments(_ cluster: LocalCluster, count: Int, folder: URL) async -> [SentAttachment] {
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    var sent: [SentAttachment] = []
    var generator = SystemRandomNumberGenerator()
    for n in 0..<count {
        let path = folder.appendingPathComponent("file-\(n).bin").path
        let size = Int.random(in: (2 << 20)...(4 << 20))
        FileManager.default.createFile(atPath: path, contents: Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        let sender = cluster.centers.randomElement()!
        let recipient = cluster.centers.filter { $0 != sender }.randomElement()!
        for _ in 0..<200 {
            let result = try? ProcessRunner.run(iias, ["send", "--to", recipient, "--category", "terrorism", "--subject", "chaos file \(n)",
                                                       "--summary", "A file under kill -9.", "--attach", path, "--json",
                                                       "--socket", cluster.socketPath(sender)], timeout: 60)
            if let result, result.status == 0, let object = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
               let id = object["id"] as? String {
                sent.append(SentAttachment(id: id, recipient: recipient, original: path))
                break
            }
            try? await Task.sleep(for: .milliseconds(200))  // the sender is down or restarting
        }
    }
    return sent
}

/// Waits up to 240 s for every file to be complete at its recipient, then saves each with
/// `iias read --save` (which opens it and checks root and SHA-256) and compares it with
/// the original, byte for byte.
func checkAttachments(_ sent: [SentAttachment], _ cluster: LocalCluster, folder: URL) async -> AttachmentTally {
    var tally = AttachmentTally(sent: sent.count, identical: 0, lost: 0, corrupt: 0)
    for (n, file) in sent.enumerated() {
        var complete = false
        let deadline = Date().addingTimeInterval(240)
        while !complete && Date() < deadline {
            complete = state(of: file, cluster) == "complete"
            if !complete { try? await Task.sleep(for: .seconds(1)) }  // each look is a logged read: once a second
        }
        guard complete else { tally.lost += 1; say("  file \(n) to \(file.recipient) is not complete"); continue }
        let saved = folder.appendingPathComponent("saved-\(n)")
        try? FileManager.default.createDirectory(at: saved, withIntermediateDirectories: true)
        let read = try? ProcessRunner.run(iias, ["read", file.id, "--save", saved.path, "--socket", cluster.socketPath(file.recipient)], timeout: 60)
        let copy = FileManager.default.contents(atPath: saved.appendingPathComponent("file-\(n).bin").path)
        if read?.status == 0, let copy, copy == FileManager.default.contents(atPath: file.original) { tally.identical += 1 } else {
            tally.corrupt += 1
            say("  file \(n) at \(file.recipient) differs or was refused: \(read?.stdout ?? "") \(read?.stderr ?? "")")
        }
    }
    return tally
}

/// The file's state at its recipient, as `iias attachments ID --json` shows it.
private func state(of file: SentAttachment, _ cluster: LocalCluster) -> String? {
    guard let shown = try? ProcessRunner.run(iias, ["attachments", file.id, "--json", "--socket", cluster.socketPath(file.recipient)], timeout: 30),
          let object = try? JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any],
          let rows = object["attachments"] as? [[String: Any]] else { return nil }
    return rows.first?["state"] as? String
}
