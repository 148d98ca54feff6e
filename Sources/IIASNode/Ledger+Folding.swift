import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel

extension Ledger {
    // MARK: Folding

    /// A payload the caller decoded from, or encoded into, the entry's bytes.
    public enum Decoded: Sendable {
        case envelope(Envelope)
        case action(OperatorAction)
        /// A listing or subscription: logged, never folded into state.
        case consultation(Consultation)
    }

    /// Folds one log entry. Payloads were verified before they were logged; here they
    /// are only parsed, so a fold never needs keys or certificates.
    /// `decoded`: the entry's payload as the node's own append already holds it, to spare a second parse.
    public mutating func apply(_ entry: LogEntry, decoded: Decoded? = nil) {
        folded = max(folded, entry.index + 1)
        var parsed: Envelope?, parsedAction: OperatorAction?
        switch decoded {
        case .envelope(let envelope)?: parsed = envelope
        case .action(let action)?: parsedAction = action
        case .consultation?, nil: break
        }
        applied += 1
        let time = entry.timeMilliseconds
        switch entry.type {
        case .sent:
            guard let envelope = parsed ?? parse(entry) else { return }
            let header = envelope.header
            guard outgoingPosition(header.id) == nil else { return }
            let isAck = header.kind == .receipt
            let first = UInt32(deliveries.count)
            for recipient in header.recipients.sorted() {
                deliveries.append(DeliveryRecord(updatedMilliseconds: time, center: centers.intern(recipient), state: Self.code(.queued)))
            }
            var record = OutgoingRecord(index: entry.index, createdMilliseconds: Int64(header.created.timeIntervalSince1970 * 1000),
                                        firstDelivery: first, deliveryCount: UInt16(clamping: header.recipients.count),
                                        isAcknowledgement: isAck)
            if let submit = pendingSubmits.removeValue(forKey: header.id) {
                record.summaryIndex = submit.index
                record.submittedBy = submit.user
            }
            outgoingIDs.append(header.id)
            outgoingRecords.append(record)
            outgoingPositions.insert(outgoingIDs.count - 1, of: outgoingIDs)
        case .received:
            guard let envelope = parsed ?? parse(entry) else { return }
            addIncoming(envelope, at: entry, isAcknowledgement: false)
        case .receipt:
            guard let envelope = parsed ?? parse(entry) else { return }
            let from = envelope.header.sender
            for receipt in envelope.header.receipts {
                guard let position = deliveryPosition(receipt.envelopeID, from) else {
                    if receipt.outcome == .acknowledged { addIncoming(envelope, at: entry, isAcknowledgement: true) }
                    if receipt.outcome == .refused, receipt.envelopeID == Self.unparsedEnvelopeID {
                        refusalsByDigest.append(RefusalByDigest(entry: entry.index, time: time, from: from, receipt: receipt))
                    }
                    continue
                }
                if receipt.outcome == .acknowledged {
                    // An acknowledgement of one of our notifications: remembered as incoming
                    // (to answer duplicates with the same delivery receipt) and shown as state.
                    addIncoming(envelope, at: entry, isAcknowledgement: true)
                    deliveries[position].state = Self.code(.acknowledged)
                    deliveries[position].receiptIndex = entry.index
                    deliveries[position].updatedMilliseconds = time
                } else {
                    // A batch may also name envelopes answered before (resent copies).
                    settle(position, with: receipt, entry: entry.index, time: time)
                }
            }
        case .operatorAction:
            if case .consultation? = decoded { return }
            guard let action = parsedAction ?? OperatorAction(json: entry.payload) else {
                // A consultation changes nothing; anything else is noted as unreadable.
                if Consultation(json: entry.payload) == nil, CosignatureRecord(json: entry.payload) == nil, AttachmentLogRecord(json: entry.payload) == nil,
                   LogEpochRecord(json: entry.payload) == nil, AlarmAcknowledgement(json: entry.payload, time: entry.time) == nil {
                    skipped.append((entry.index, "operator action is not JSON"))
                }
                return
            }
            let user = users.intern(action.user)
            switch action.action {
            case .submit:
                if let position = outgoingPosition(action.envelope) {
                    outgoingRecords[position].summaryIndex = entry.index
                    outgoingRecords[position].submittedBy = user
                } else {
                    pendingSubmits[action.envelope] = (entry.index, user)
                }
            case .read:
                // Every read is logged (each consultation is), the first marks it read; a
                // repeated one sets nothing new.
                if let position = inboxPosition(of: action) { incomingRecords[position].read = true }
            case .acknowledge:
                guard let position = inboxPosition(of: action) else { return }
                incomingRecords[position].read = true
                if incomingRecords[position].acknowledgedMilliseconds == 0 {
                    incomingRecords[position].acknowledgedMilliseconds = max(time, 1)
                    incomingRecords[position].acknowledgedBy = user
                }
            }
        case .treeHead:
            break
        }
    }

    /// An entry that changes no state (a tree head the node appended) still counts as folded.
    public mutating func skip(_ index: UInt64) {
        folded = max(folded, index + 1)
        applied += 1
    }

    /// The envelope a read or acknowledgement names: (sender, id), or in actions logged
    /// before they named the sender, the first received notification with the id (those
    /// nodes kept one envelope per id, so it is the one the operator saw).
    private func inboxPosition(of action: OperatorAction) -> Int? {
        if let sender = action.sender { return incomingPosition(action.envelope, from: sender) }
        return incomingPositions.positions(of: action.envelope, in: incomingIDs).first { !incomingRecords[$0].isAcknowledgement }
    }

    /// Keyed on (sender, id): another center's envelope with the same id is another envelope.
    mutating func addIncoming(_ envelope: Envelope, at entry: LogEntry, isAcknowledgement: Bool) {
        let header = envelope.header
        let sender = centers.intern(header.sender)
        guard incomingPosition(header.id, senderNumber: sender) == nil else { return }
        incomingIDs.append(header.id)
        incomingRecords.append(IncomingRecord(index: entry.index, receivedMilliseconds: entry.timeMilliseconds,
                                              sender: sender, isAcknowledgement: isAcknowledgement))
        incomingPositions.insert(incomingIDs.count - 1, of: incomingIDs)
    }

    mutating func parse(_ entry: LogEntry) -> Envelope? {
        do { return try Envelope(parsing: entry.payload) } catch {
            skipped.append((entry.index, "not an envelope: \(error)"))
            return nil
        }
    }
}
