import ArgumentParser

/// How much of a listing a table shows: the newest 50 by default, `--limit N` or `--all`,
/// and a last line saying how many were left out and how to see them. A night shift's
/// 505 inbox rows scrolled off the screen unseen; the first screenful is what an operator
/// acts on. `--json` keeps listing everything unless `--limit` is given, as scripts expect.
struct ListingOptions: ParsableArguments {
    static let defaultLimit = 50
    /// How far past the rows shown a table counts what it leaves out: the count costs a
    /// transfer of that many rows, so a log of a million is never fetched to say "999,950
    /// more"; past it the line says "more than 1,000 more".
    static let countedBeyond = 1000

    @Option(help: ArgumentHelp("Show at most N (default \(ListingOptions.defaultLimit) in a table; --json lists all unless --limit is given).",
                               valueName: "N"))
    var limit: Int?

    @Flag(help: "Show every one.")
    var all = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit takes a number from 1 up; --all shows every one") }
        if all, limit != nil { throw ValidationError("give --all or --limit N, not both") }
    }

    /// The rows a table shows.
    private var shown: Int { limit ?? Self.defaultLimit }

    /// What to ask the node for: `--limit` as given for `--json`; for a table, the rows it
    /// shows and enough beyond them to count what it leaves out (up to `countedBeyond`).
    func nodeLimit(json: Bool) -> Int? { all ? nil : json ? limit : shown + Self.countedBeyond + 1 }

    /// The rows a table shows, and the line under it when it left some out, e.g.
    /// "455 more notifications; --all shows them, --limit N shows the newest N".
    func cut<T>(_ items: [T], noun: String) -> (shown: ArraySlice<T>, moreLine: String?) {
        guard !all, items.count > shown else { return (items[...], nil) }
        let more = items.count - shown
        let counted = more > Self.countedBeyond ? "more than \(Self.countedBeyond) more \(noun)s"
                                                : Plural.count(more, "more \(noun)", plural: "more \(noun)s")
        return (items.prefix(shown), counted + "; --all shows " + (more == 1 ? "it" : "them") + ", --limit N shows the newest N")
    }
}
