import Foundation
import IIASModel

extension LocalAPIClient {
    /// The C2SP tlog-proof bundle `recipient` sent for our notification `id` (its bytes,
    /// as kept): `GET /v1/outbox/{id}/proof/{center}`.
    public func receiptProof(of id: UUID, from recipient: CenterID) async throws -> [UInt8] {
        let (status, bytes) = try await raw(.GET, "/v1/outbox/\(id.uuidString.lowercased())/proof/\(recipient.rawValue)")
        guard status == 200 else {
            guard let body = try? APIJSON.decoder().decode(APIErrorBody.self, from: Data(bytes)) else {
                throw Failure.malformedAnswer("HTTP \(status) without an error body")
            }
            throw Failure.refused(status: status, body: body)
        }
        return bytes
    }
}
