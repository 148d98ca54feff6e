import Foundation
import IIASModel

/// How long this node's trust material has left: its own certificates, every peer's,
/// and the CRL until its nextUpdate. A certificate or CRL that runs out stops the
/// exchange at once (every verification fails), and nothing else warned before, so
/// `iias status`, `iias peers`, the metrics and the node's log all show this, with
/// warnings from `certificateWarningDays` (certificates) and `crlWarningDays` (the CRL).
public struct ExpiryReport: Sendable, Codable, Equatable {
    /// One certificate: whose, for what, until when.
    public struct Item: Sendable, Codable, Equatable {
        public var center: CenterID
        /// signing, encryption or tls.
        public var purpose: String
        /// Whether it is this node's own certificate (else a peer's).
        public var own: Bool
        public var serial: String
        public var notAfter: Date
        /// Whole days left, rounded down; negative once expired.
        public var daysLeft: Int

        public init(center: CenterID, purpose: String, own: Bool, serial: String, notAfter: Date, now: Date) {
            self.center = center
            self.purpose = purpose
            self.own = own
            self.serial = serial
            self.notAfter = notAfter
            daysLeft = Int((notAfter.timeIntervalSince(now) / 86_400).rounded(.down))
        }

        public var expired: Bool { daysLeft < 0 }
        /// "GE's encryption certificate", "our signing certificate".
        public var name: String { (own ? "our" : "\(center)'s") + " \(purpose) certificate" }
    }

    public static let certificateWarningDays = 30
    public static let crlWarningDays = 7

    public var certificates: [Item]
    public var crlNextUpdate: Date?
    /// Whole hours until the CRL's nextUpdate, rounded down; negative once passed.
    public var crlHoursLeft: Int?

    public init(certificates: [Item], crlNextUpdate: Date?, now: Date) {
        self.certificates = certificates
        self.crlNextUpdate = crlNextUpdate
        crlHoursLeft = crlNextUpdate.map { Int(($0.timeIntervalSince(now) / 3600).rounded(.down)) }
    }

    /// The soonest-expiring certificate of `center` (own or a peer's).
    public func earliest(of center: CenterID) -> Item? {
        certificates.filter { $0.center == center }.min { $0.notAfter < $1.notAfter }
    }

    /// One sentence for each certificate or CRL within its warning time, soonest first;
    /// each says what runs out, when, and what to do.
    public var warnings: [String] {
        var lines: [(Date, String)] = []
        for item in certificates where item.daysLeft < Self.certificateWarningDays {
            let when = Self.day(item.notAfter)
            let fix = item.own ? "renew it (Scripts/pki.sh rotate DIR \(item.center)) and SIGHUP the node"
                               : "ask \(item.center) for its renewed certificate, put it in the certificates folder and SIGHUP the node"
            lines.append((item.notAfter, item.expired ? "\(item.name) (serial \(item.serial)) EXPIRED on \(when): \(fix)"
                                                      : "\(item.name) (serial \(item.serial)) expires in \(item.daysLeft) days, on \(when): \(fix)"))
        }
        if let next = crlNextUpdate, let hours = crlHoursLeft, hours < Self.crlWarningDays * 24 {
            let fix = "get a fresh crl.pem (Scripts/pki.sh crl DIR) and SIGHUP the node"
            lines.append((next, hours < 0 ? "the CRL EXPIRED at its nextUpdate, \(Self.day(next)): \(fix)"
                                          : "the CRL's nextUpdate is in \(hours) hours, \(Self.day(next)): \(fix)"))
        }
        return lines.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// Why sealing to `recipients` fails for lack of time, if it does: our signing
    /// certificate, the CRL, or a recipient's encryption certificate has run out.
    public func expiredProblem(recipients: [CenterID]) -> String? {
        var found: [String] = []
        if let hours = crlHoursLeft, hours < 0, let next = crlNextUpdate {
            found.append("the CRL expired at its nextUpdate, \(Self.day(next)); get a fresh crl.pem (Scripts/pki.sh crl DIR) and SIGHUP the node")
        }
        for item in certificates where item.expired && (item.own ? item.purpose == "signing" : recipients.contains(item.center) && item.purpose == "encryption") {
            found.append(item.own ? "\(item.name) expired on \(Self.day(item.notAfter)); renew it (Scripts/pki.sh rotate DIR \(item.center)) and SIGHUP the node"
                                  : "\(item.name) expired on \(Self.day(item.notAfter)); ask \(item.center) for its renewed certificate and SIGHUP the node")
        }
        return found.isEmpty ? nil : found.joined(separator: "; ")
    }

    static func day(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
