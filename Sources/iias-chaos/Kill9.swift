import Foundation
import IIASAPI
import IIASTestSupport

func kill9() async throws -> Outcome {
    let started = Date()
    let cluster = try LocalCluster(["AZ", "GE", "UA", "MD"], pki: pki, executable: iias)
    try cluster.startAll(logLevel: "warning")
    let ledger = Ledger()
    let perSender = max(1, notificationCount / 4)
    say("kill9: \(perSender * 4) notifications and \(attachmentCount) files across four nodes, \(killCount) SIGKILLs")
    let files = cluster.folder.appendingPathComponent("chaos-files")
    async let attachments = sendAttachments(cluster, count: attachmentCount, folder: files)
    async let loads: Void = withTaskGroup(of: Void.self) { group in
        for center in cluster.centers {
            group.addTask { await load(cluster, from: center, to: cluster.centers.filter { $0 != center }, count: perSender, ledger: ledger) }
        }
    }
    var done = 0
    while done < killCount {
        try await Task.sleep(for: .milliseconds(Int.random(in: 150...600)))
        let victim = cluster.centers.randomElement()!
        cluster.stop(victim, signal: SIGKILL)
        try cluster.start(victim, logLevel: "warning")
        done += 1
    }
    await loads
    let tally = await checkAttachments(await attachments, cluster, folder: files)
    var outcome = await audit(cluster, ledger, scenario: "kill -9 of a random node during load", faults: done, started: started)
    outcome.attachments = tally
    return outcome
}
