/// Counts with their nouns in the right number ("1 notification", "501 notifications",
/// "2 inbox notifications"), instead of gluing an "s" to whatever word comes along
/// ("501 inboxs").
enum Plural {
    /// `count` and `noun`, plural unless the count is one; `plural` for irregular nouns.
    static func count(_ count: some BinaryInteger, _ noun: String, plural: String? = nil) -> String {
        "\(count) " + (count == 1 ? noun : plural ?? noun + "s")
    }
}
