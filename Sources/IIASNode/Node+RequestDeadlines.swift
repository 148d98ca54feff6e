import Foundation
import IIASAPI
import IIASModel
import Metrics

/// The deadline watch: on a timer (`requests.checkSeconds`) the node looks at its open
/// requests, records how many are overdue and due soon (Prometheus gauges, by direction)
/// and tells `watch` once when a request comes within its due-soon margin and once when
/// it passes its deadline — the desk learns of it without asking.
extension Node {
    func requestDeadlineLoop() async {
        let interval = Duration.milliseconds(Int64(configuration.requests.checkSeconds * 1000))
        while !Task.isCancelled {
            checkRequestDeadlines(now: Date())
            try? await Task.sleep(for: interval)
        }
    }

    /// One check: the gauges, and an event for each request whose stage worsened since
    /// it was last announced (answered requests drop out of the list and are forgotten).
    func checkRequestDeadlines(now: Date) {
        // Until the desk index has read the log, an answered request could look overdue.
        advanceDesk()
        guard deskIsCurrent else { return }
        let open = openRequests(now: now)
        for direction in [RequestStatus.Direction.sent, .received] {
            let mine = open.filter { $0.direction == direction }
            Metrics.Gauge(label: "iias_requests_overdue", dimensions: [("direction", direction.rawValue)])
                .record(mine.filter { $0.stage == .overdue }.count)
            Metrics.Gauge(label: "iias_requests_due_soon", dimensions: [("direction", direction.rawValue)])
                .record(mine.filter { $0.stage == .dueSoon }.count)
        }
        var still: [String: RequestStatus.Stage] = [:]
        for request in open {
            let key = "\(request.sender.rawValue)/\(request.id.upperCaseString)"
            let last = announcedRequests[key] ?? .open
            still[key] = min(last, request.stage)
            guard request.stage < last else { continue }
            logger.notice(request.stage == .overdue ? "request overdue" : "request due soon",
                          metadata: ["envelope": "\(request.id)", "from": "\(request.sender)", "direction": "\(request.direction.rawValue)",
                                     "waiting": "\(request.waiting.map(\.rawValue).joined(separator: ","))"])
            emit(.request(request))
        }
        announcedRequests = still
    }
}
