/// How strong a marking is, so that what answers a notification never carries weaker
/// handling than it: a reply or update inherits the strongest of its own and the
/// original's, and anything less must be an operator's explicit, logged decision.
extension TLP {
    /// 4 for TLP:RED down to 0 for TLP:CLEAR: the higher, the fewer may see it.
    public var strength: Int {
        switch self {
        case .red: 4
        case .amberStrict: 3
        case .amber: 2
        case .green: 1
        case .clear: 0
        }
    }

    /// What the label allows, in TLP 2.0's words, for people who do not know them by heart.
    public var meaning: String {
        switch self {
        case .red: "named recipients only, no further disclosure"
        case .amberStrict: "recipients' own organization only, need to know"
        case .amber: "recipients' organization and its clients, need to know"
        case .green: "recipients' community, not public channels"
        case .clear: "no limit on disclosure"
        }
    }
}

extension HandlingCode {
    /// The SIENA code's meaning, as an operator needs it beside the code.
    public var meaning: String {
        switch self {
        case .h0: "law-enforcement purposes only"
        case .h1: "not to be used as evidence in court without the sender's permission"
        case .h2: "not to be passed on without the sender's permission"
        case .h3: "other restrictions apply (below)"
        }
    }
}

extension Handling {
    /// Whether `self` gives away anything `original` protects: a lower TLP, a missing
    /// handling code, missing restrictions, or another national classification (national
    /// markings cannot be ordered, so any other one counts as weaker).
    public func isWeaker(than original: Handling) -> Bool {
        tlp.strength < original.tlp.strength
            || !Set(original.codes).isSubset(of: codes)
            || (original.restrictions.map { !(restrictions ?? "").contains($0) } ?? false)
            || (original.classification.map { $0 != classification } ?? false)
    }

    /// The strongest of `self` and `original`: the higher TLP, the union of the codes (in
    /// code order), both restrictions (the original's first) and the original's
    /// classification when it has one. Never weaker than either, except that `self`'s
    /// own classification gives way to the original's (they cannot be ordered).
    public func inheriting(_ original: Handling) -> Handling {
        let codes = HandlingCode.allCases.filter { self.codes.contains($0) || original.codes.contains($0) }
        var restrictions = original.restrictions
        if let own = self.restrictions, own != original.restrictions {
            restrictions = restrictions.map { String(($0 + "\n" + own).prefix(1000)) } ?? own
        }
        return Handling(tlp: tlp.strength >= original.tlp.strength ? tlp : original.tlp, codes: codes,
                        restrictions: restrictions, classification: original.classification ?? classification)
    }

    /// One line for tables and confirmations: `TLP:RED H2 H3 [SECRET]`.
    public var marking: String {
        ([tlp.rawValue] + codes.map(\.rawValue) + (classification.map { ["[\($0)]"] } ?? [])).joined(separator: " ")
    }
}

extension Evaluation {
    /// The 4x4 code and its meaning, e.g. "B2: source mostly reliable; known personally
    /// to the source but not to the official passing it on".
    public var meaning: String {
        "\(sourceReliability.rawValue)\(informationAccuracy.rawValue): source \(sourceReliability.meaning); \(informationAccuracy.meaning)"
    }
}

extension SourceReliability {
    public var meaning: String {
        switch self {
        case .a: "reliable without doubt"
        case .b: "mostly reliable"
        case .c: "mostly unreliable"
        case .x: "reliability cannot be assessed"
        }
    }
}

extension InformationAccuracy {
    public var meaning: String {
        switch self {
        case .certain: "accuracy not in doubt"
        case .knownToSource: "known personally to the source, not to the official passing it on"
        case .corroborated: "not known personally to the source, corroborated by recorded information"
        case .uncorroborated: "not known personally to the source, cannot be corroborated"
        }
    }
}
