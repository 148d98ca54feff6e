import IIASModel
import IIASAPI

/// Strings the ledger stores once (center ids, OS user names); records hold a 16-bit number.
struct Names: Sendable {
    static let none = UInt16.max
    private(set) var values: [String] = []
    private var numbers: [String: UInt16] = [:]

    init(_ values: [String] = []) {
        self.values = values
        for (i, value) in values.enumerated() { numbers[value] = UInt16(i) }
    }

    mutating func intern(_ value: String) -> UInt16 {
        if let number = numbers[value] { return number }
        guard values.count < Int(Self.none) else { return Self.none }
        values.append(value)
        numbers[value] = UInt16(values.count - 1)
        return UInt16(values.count - 1)
    }

    mutating func intern(_ center: CenterID) -> UInt16 { intern(center.rawValue) }
    func number(of center: CenterID) -> UInt16? { numbers[center.rawValue] }
    subscript(number: UInt16) -> String? { number == Self.none || Int(number) >= values.count ? nil : values[Int(number)] }
    /// The center behind a number from `intern(_:)` of a center id.
    func center(_ number: UInt16) -> CenterID { CenterID(rawValue: self[number] ?? "") ?? CenterID(rawValue: "XX")! }
}
