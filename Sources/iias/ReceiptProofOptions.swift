import ArgumentParser
import Foundation
import IIASAPI
import IIASModel

/// `iias outbox ID --proof CENTER [--out FILE]`: the recipient's proof of delivery as kept
/// by the node, so that an operator can hand it to an auditor.
struct ReceiptProofOptions: ParsableArguments {
    @Option(name: .customLong("proof"), help: ArgumentHelp(
        "Write the proof of delivery CENTER sent for notification ID: a C2SP tlog-proof bundle (the entry's index, its inclusion proof, CENTER's checkpoint with its witnesses' cosignatures).",
        discussion: "It arrives once CENTER's checkpoint covering the notification has a quorum of cosignatures. Check it offline with `iias audit check-proof FILE --policy POLICY [--envelope ENVELOPE]`; `Scripts/pki.sh policy DIR` writes the policy.",
        valueName: "CENTER")) var center: String?
    @Option(name: .customLong("out"), help: ArgumentHelp("Where to write the bundle (default: standard output).", valueName: "FILE")) var file: String?

    /// Writes the bundle when --proof is given; false when it is not (the outbox view runs).
    func write(id: String?, _ client: LocalAPIClient) async throws -> Bool {
        guard let center else {
            if file != nil { throw CLIFailure.usage("--out goes with --proof CENTER", hint: "iias outbox ID --proof GE --out ID.tlog-proof") }
            return false
        }
        guard let id else { throw CLIFailure.usage("--proof needs a notification id", hint: "iias outbox ID --proof \(center) --out ID.tlog-proof") }
        guard let recipient = CenterID(rawValue: center) else { throw CLIFailure.usage("\(center.prefix(40)) is not a center id", hint: "e.g. GE or UA-SBU") }
        let bundle = try await OperatorExit.run {
            try await client.receiptProof(of: try await NotificationIDInput.sent(id, client), from: recipient)
        }
        guard let file, file != "-" else {
            FileHandle.standardOutput.write(Data(bundle))
            return true
        }
        guard FileManager.default.createFile(atPath: file, contents: Data(bundle)) else {
            throw CLIFailure.usage("cannot write \(file)", hint: "check the folder exists and is writable")
        }
        print("wrote \(file): \(center)'s proof of delivery (\(bundle.count) bytes)")
        return true
    }
}
