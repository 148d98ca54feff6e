import ArgumentParser

/// How much of a listing a table shows: the newest 50 by default, `--limit N` or `--all`,
/// and a last line saying how many were left out and how to see them. A night shift's
/// 505 inbox rows scrolled off the screen unseen; the first screenful is what an operator
/// acts on. `--json` keeps listing everything unless `--limit` is given, as scripts expect.
struct ListingOptions: ParsableArguments {
    static let defaultLimit = 50

    @Option(help: ArgumentHelp("Show at most N (default \(ListingOptions.defaultLimit) in a table; --json lists all unless --limit is given).",
                               valueName: "N"))
    var limit: Int?

    @Flag(help: "Show every one.")
    var all = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit takes a number from 1 up; --all shows every one") }
        if all, limit != nil { throw ValidationError("give --all or --limit N, not both") }
    }

    /// What to ask the node for. A table must know how many it leaves out, so it asks for
    /// all and cuts; `--json` passes `--limit` on.
    func nodeLimit(json: Bool) -> Int? { all ? nil : json ? limit : nil }

    /// The rows a table shows, and how many it leaves out.
    func cut<T>(_ items: [T]) -> (shown: ArraySlice<T>, more: Int) {
        let count = all ? items.count : min(items.count, limit ?? Self.defaultLimit)
        return (items.prefix(count), items.count - count)
    }

    /// The line under a table that left rows out, e.g. "455 more notifications; --all shows them".
    static func moreLine(_ more: Int, noun: String) -> String? {
        guard more > 0 else { return nil }
        return "\(Plural.count(more, "more \(noun)", plural: "more \(noun)s")); --all shows "
            + (more == 1 ? "it" : "them") + ", --limit N shows the newest N"
    }
}
