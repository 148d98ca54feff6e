import Foundation
import IIASAudit
import IIASLog

// `iias log verify`'s keyless check of stored attachments against their logged roots.
extension Log.Verify {
    /// The attachments directory beside a node's log directory (DATA/log → DATA/attachments).
    static func attachmentsDirectory(besideLog dir: String) -> String {
        ((dir as NSString).standardizingPath as NSString).deletingLastPathComponent + "/attachments"
    }

    /// Checks the stored attachments the log names; nil when the log names none.
    static func storedAttachments(_ log: LogStore, dir: String) -> StoredAttachmentAudit? {
        let audit = StoredAttachmentAudit.run(log, attachmentsDirectory: attachmentsDirectory(besideLog: dir))
        return audit.checked + audit.released == 0 ? nil : audit
    }

    static func json(_ audit: StoredAttachmentAudit) -> [String: Any] {
        ["checked": audit.checked, "releasedAfterDelivery": audit.released, "problems": audit.problems.map { ["index": $0.index, "file": $0.file, "root": $0.root, "why": $0.why] }]
    }

    static func printText(_ audit: StoredAttachmentAudit) {
        let released = audit.released == 0 ? "" : "; \(audit.released) sent released after delivery"
        print("attachments checked: \(audit.checked) (stored ciphertext against the logged roots)\(released)")
        for problem in audit.problems {
            print(Terminal.red("FAILS") + " attachment \(problem.file) (entry \(problem.index)): \(problem.why)")
        }
    }
}
