/// A state as ISO 3166-1 alpha-2 (upper case): nationality, issuing state, flag state.
///
/// Checked against the list of assigned codes, not just two letters, so that a typo such
/// as `UK` (for `GB`) or `UKR` is caught when the notification is written rather than when
/// an analyst searches for it. `XK` (Kosovo), user-assigned but used by INTERPOL and the
/// EU, is accepted too. The JSON Schema carries the same list.
public struct CountryCode: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard CountryCode.assigned.contains(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public init?(_ text: String) { self.init(rawValue: text) }

    public var description: String { rawValue }

    public static func < (a: CountryCode, b: CountryCode) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let code = CountryCode(rawValue: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 3166-1 alpha-2 code: \(text.prefix(20))")
        }
        self = code
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// ISO 3166-1 alpha-2 codes assigned as of 2024 (from Debian's iso-codes), plus XK.
    public static let assigned: Set<String> = Set("""
        AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM
        BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX
        CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG
        GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR
        IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV
        LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE
        NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO
        RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
        TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF
        WS XK YE YT ZA ZM ZW
        """.split(whereSeparator: \.isWhitespace).map(String.init))
}
