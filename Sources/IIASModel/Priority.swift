/// How fast the recipients should act, in the military message precedence tradition.
public enum Priority: String, Codable, Sendable, CaseIterable {
    /// Threat to life or an imminent attack: handle at once, ahead of everything else.
    case flash
    /// Handle within hours.
    case urgent
    /// Handle in the normal course of work.
    case routine
}
