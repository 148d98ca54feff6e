import ArgumentParser
import Foundation
import IIASCrypto
import IIASLog
import IIASModel

/// The tlog-proof mode of `iias audit check-proof`: a C2SP bundle checked against a C2SP
/// policy, offline, so that an auditor trusts the keys it chose and not this program's files.
struct TlogProofCheck: ParsableArguments {
    @Option(help: ArgumentHelp("A C2SP tlog-policy file: the logs and witnesses trusted and the quorum (`Scripts/pki.sh policy DIR` writes one).",
                               valueName: "POLICY"))
    var policy: String?

    @Option(help: ArgumentHelp("The envelope the bundle should prove (its bytes, as sent): the proven entry must be that envelope's.",
                               valueName: "ENVELOPE"))
    var envelope: String?

    @OptionGroup(title: "The sender's signature, judged at the time the witnesses bound (with --envelope)")
    var trust: TrustOptions

    func validate() throws {
        if envelope != nil, policy == nil { throw CLIFailure.usage("--envelope goes with --policy", hint: "iias audit check-proof FILE --policy POLICY --envelope ENVELOPE") }
        if trust.ca != nil || trust.crl != nil || trust.certs != nil, envelope == nil || trust.ca == nil || trust.certs == nil {
            throw CLIFailure.usage("judging the sender's signature needs the envelope, the CA and the centers' certificates (and the CRL, to see revocations)",
                                   hint: "iias audit check-proof FILE --policy POLICY --envelope ENVELOPE --ca PKI/ca.crt --crl PKI/crl.pem --certs PKI/centers")
        }
    }

    func check(_ file: String, json: Bool) throws {
        guard let policyFile = policy else { return }
        let bundleBytes = try readUserFile(file, limit: TlogProof.maximumBytes, what: "tlog-proof bundle")
        let policyBytes = try readUserFile(policyFile, limit: 1 << 20, what: "policy")
        let payload = try envelope.map { try readUserFile($0, limit: 64 << 20, what: "envelope") }
        let verified: TlogProof.Verified
        let leaf: EntryLeaf
        let bundle: TlogProof
        do {
            let policy = try TlogPolicy(parsing: policyBytes)
            bundle = try TlogProof(parsing: String(decoding: bundleBytes, as: UTF8.self))
            leaf = try bundle.entryLeaf(payload: payload)
            verified = try bundle.verify(leafHash: leaf.leafHash, policy: policy)
        } catch .malformed(let why) {
            throw CLIFailure.usage("malformed: \(why)", hint: "a bundle comes from `iias outbox ID --proof CENTER`; a policy from `Scripts/pki.sh policy DIR`")
        } catch {
            throw CLIFailure.invalid(error.description)
        }
        let noLaterThan = verified.loggedNoLaterThan.map { Date(timeIntervalSince1970: Double($0)) }
        let signature = try payload.flatMap { try senderSignature($0, signedNoLaterThan: noLaterThan) }
        if json {
            var object: [String: Any] = [
                "valid": true, "kind": "tlog-proof", "origin": verified.checkpoint.origin, "index": bundle.index,
                "treeSize": verified.checkpoint.treeSize, "rootHash": verified.checkpoint.rootHash.hexString,
                "entryType": "\(leaf.type)", "entryTime": Self.iso(leaf.time), "envelopeChecked": payload != nil,
                "cosignatures": verified.cosignatures.map { ["witness": $0.witness, "timestamp": $0.timestamp] as [String: Any] },
            ]
            if let noLaterThan { object["loggedNoLaterThan"] = Self.iso(noLaterThan) }
            if let signature {
                object["senderSignature"] = ["sender": signature.sender.rawValue, "certificateSerial": signature.certificate.serialNumber,
                                             "validAt": Self.iso(signature.at)]
            }
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        print("valid: entry \(bundle.index) (\(leaf.type)) is in \(verified.checkpoint.origin), a tree of \(verified.checkpoint.treeSize) entries")
        print(payload == nil ? "envelope: not given (the leaf hash the bundle names is what was proven)" : "envelope: its bytes make the proven entry")
        let witnesses = verified.cosignatures.map { "\($0.witness) at \(Self.iso(Date(timeIntervalSince1970: Double($0.timestamp))))" }
        print("cosigned by: \(witnesses.isEmpty ? "none (the policy asks for no quorum)" : witnesses.joined(separator: ", ")); quorum met")
        print("entry time: \(Self.iso(leaf.time)) by the log's own clock")
        if let noLaterThan { print("logged no later than \(Self.iso(noLaterThan)), by the clocks of witnesses meeting the quorum") }
        if let signature {
            print("sender: \(signature.sender)'s signature verifies with its signing certificate \(signature.certificate.serialNumber), valid and not "
                  + "revoked at \(Self.iso(signature.at)): signed while its key was valid, whatever became of the key since")
        }
        print("root: \(verified.checkpoint.rootHash.hexString)")
    }

    /// The envelope's signature judged at `bound`, the time by which the witnesses had
    /// cosigned its entry: the sender's certificate must have been valid and not revoked
    /// then (RFC 5280: a revocation counts from its invalidity date when the CRL gives one).
    /// A key revoked later does not undo what this proves; one invalid by then fails.
    private func senderSignature(_ payload: [UInt8], signedNoLaterThan bound: Date?) throws
        -> (sender: CenterID, certificate: Certificate, at: Date)? {
        guard trust.ca != nil else { return nil }
        guard let bound else {
            throw CLIFailure.invalid("no witness cosigned the checkpoint: nothing bounds when the envelope was signed, so its signature cannot be judged by it")
        }
        let verifier = EnvelopeVerifier(trust: try trust.trustAnchor(), certificates: try trust.certificateDirectory())
        let envelope: Envelope
        do { envelope = try Envelope(parsing: payload) } catch { throw CLIFailure.invalid("the envelope does not parse: \(error)") }
        do {
            let verified = try verifier.verify(envelope, at: bound)
            return (envelope.header.sender, verified.senderCertificate, bound)
        } catch {
            throw CLIFailure.invalid("the sender's signature does not hold at \(Self.iso(bound)), the time the witnesses bound the entry by: \(error)")
        }
    }

    static func iso(_ date: Date) -> String { date.formatted(.iso8601) }
}
