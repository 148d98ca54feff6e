import ArgumentParser
import Foundation
import IIASAPI

/// `iias alarms`: the history alarms the node holds, and `iias alarms ack` to set one aside
/// once dealt with, so that monitoring (`iias status --check-history`) shows the next.
struct Alarms: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The history alarms the node holds, and setting one aside once dealt with.",
        discussion: """
        Examples:
          iias alarms                  # each alarm, its key, who acknowledged it
          iias alarms ack split-view/iias-center-GE-log-122-c9f7….json \\
              --note "GE restored from a snapshot; confirmed with GE"

        Alarms: a split view or an equivocation (each with its evidence file:
        verify it with `iias audit split-view` or `iias audit equivocation`), a
        restore of this node found, a rolled-back witness state, a peer's log
        leaving a consistency question unanswered (unproven). An alarm stays as
        long as what raised it. Acknowledging one logs who set it aside and why
        (`iias log entries --type alarm-acknowledged`); it stays listed, but
        `iias status --check-history` no longer exits 4 for it, so the next
        alarm shows.
        """ + "\n\n" + OperatorExit.discussion,
        subcommands: [List.self, Acknowledge.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the alarms (the default).")
        @OptionGroup var query: QueryOptions

        func run() async throws {
            guard let alarms = try await query.fetch({ try await $0.alarms() }) else { return }
            guard !alarms.isEmpty else { return print("no history alarm") }
            Terminal.printTable(["KIND", "CENTER", "KEY", "STATE", "DETAIL"], alarms.map { alarm in
                let state = alarm.acknowledged.map { "acknowledged by \(Terminal.safe($0.user)) \(Render.time($0.at))" } ?? Terminal.red("open")
                return [alarm.kind.label, alarm.center.rawValue, Terminal.safe(alarm.key ?? "-"), state, Render.alarm(alarm)]
            })
        }
    }

    struct Acknowledge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ack", abstract: "Set an alarm aside, saying what was done about it (operators only).",
            discussion: "The key is the one `iias alarms` prints. The evidence is kept; the acknowledgement is logged.")
        @Argument(help: ArgumentHelp("The alarm's key, as `iias alarms` prints it.", valueName: "key")) var key: String
        @Option(help: ArgumentHelp("What was done about it, in one line (kept and logged).", valueName: "text")) var note: String
        @OptionGroup var query: QueryOptions

        func validate() throws {
            if note.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                throw CLIFailure.usage("the note is empty", hint: "say what was done, e.g. --note \"restore confirmed with GE's operators\"")
            }
        }

        func run() async throws {
            let (key, note) = (self.key, self.note)
            guard let alarm = try await query.fetch({ try await $0.acknowledgeAlarm(key, note: note) }) else { return }
            print("acknowledged: \(alarm.kind.label) \(Terminal.safe(alarm.key ?? key))")
        }
    }
}
