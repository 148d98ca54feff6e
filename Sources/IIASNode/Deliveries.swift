import IIASModel
import IIASAPI

/// One envelope's recipients and where it stands with each, as shown to operators.
public struct Deliveries: Sendable {
    public private(set) var values: [RecipientDelivery]

    init(_ values: [RecipientDelivery]) { self.values = values }

    public subscript(center: CenterID) -> RecipientDelivery? { values.first { $0.center == center } }
}
