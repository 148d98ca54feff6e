/// The threat a notification is about: the areas the GUAM, CARICC and INTERPOL
/// agreements name, so that centers can route and count notifications alike.
public enum Category: String, Codable, Sendable, CaseIterable {
    case terrorism
    case terrorismFinancing = "terrorism-financing"
    case extremism
    case separatism
    case illegalArmedGroup = "illegal-armed-group"
    case organizedCrime = "organized-crime"
    case drugTrafficking = "drug-trafficking"
    case illegalMigration = "illegal-migration"
    case humanTrafficking = "human-trafficking"
    /// Weapons, ammunition, explosives and components of weapons of mass destruction.
    case weaponsWMD = "weapons-wmd"
    case cybercrime
    case moneyLaundering = "money-laundering"
    case corruption
    case other
}
