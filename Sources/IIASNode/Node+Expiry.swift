import Foundation
import IIASAPI
import IIASModel
import Metrics

extension Node {
    /// How often the expiry gauges are brought up to date.
    static let expiryCheckInterval: Duration = .seconds(60)
    /// How often the warnings are repeated in the log while they hold.
    static let expiryWarningInterval: TimeInterval = 86_400

    /// The expiry report as of now, for `status`, `peers` and the metrics.
    func expiryReport() -> ExpiryReport {
        crypto.expiryReport(peers: configuration.peers.map(\.center))
    }

    /// Every minute the gauges; at start and then daily a warning line per certificate
    /// or CRL that runs out soon (a reload logs them again at once, `checkExpiry`).
    func expiryLoop() async {
        var lastWarned: Date?
        while !Task.isCancelled {
            let warn = lastWarned.map { Date().timeIntervalSince($0) >= Self.expiryWarningInterval } ?? true
            checkExpiry(logging: warn)
            if warn { lastWarned = Date() }
            try? await Task.sleep(for: Self.expiryCheckInterval)
        }
    }

    /// Records the gauges and, if `logging`, writes each warning to the log.
    func checkExpiry(logging: Bool) {
        let report = expiryReport()
        for item in report.certificates {
            Metrics.Gauge(label: "iias_certificate_expiry_seconds", dimensions: [("center", item.center.rawValue), ("purpose", item.purpose)])
                .record(item.notAfter.timeIntervalSinceNow)
        }
        if let next = report.crlNextUpdate {
            Metrics.Gauge(label: "iias_crl_next_update_seconds").record(next.timeIntervalSinceNow)
        }
        guard logging else { return }
        for warning in report.warnings { logger.warning("expiry: \(warning)") }
    }
}
