import ArgumentParser

@main
struct IIAS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iias",
        abstract: "Exchange signed, end-to-end encrypted notifications between national centers."
    )
}
