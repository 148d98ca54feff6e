import ArgumentParser
import IIASNode

extension NodeCommand {
    struct CheckConfig: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-config",
            abstract: "Check a node configuration, the keys and certificates it names, and what `run` needs of this machine (the socket's group and folder, free ports), without starting.",
            discussion: NodeCommand.example
        )

        @Argument(help: ArgumentHelp("The configuration file.", valueName: "file"))
        var file: String

        @Flag(help: "Print the effective configuration as JSON.")
        var json = false

        func run() async throws {
            let configuration: NodeConfiguration
            do {
                configuration = try await NodeConfiguration.load(file: file)
                try configuration.checkKeysAndCertificates()
                try configuration.checkEnvironment(probePorts: true)
            } catch {
                throw CLIFailure.usage("configuration \(file): \(error)")
            }
            let fields: [(String, String)] = [
                ("center", configuration.center.rawValue), ("keys", configuration.keyDirectory),
                ("key passphrase", configuration.keyPassphrase?.description ?? "(keys not encrypted)"), ("ca", configuration.caFile),
                ("crl", configuration.crlFile ?? "none: revocation is NOT checked (\"crl\": \"none\")"), ("certificates", configuration.certificateDirectory),
                ("listen", configuration.listen.description),
                ("peers", configuration.peers.map { "\($0.center)=\($0.address)" }.joined(separator: ", ")),
                ("data", configuration.dataDirectory), ("api.socket", configuration.socketPath),
                ("api.group", configuration.socketGroup ?? "(daemon's)"),
                ("api.users", configuration.users.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.rawValue)" }.joined(separator: ", ")),
                ("metrics.listen", configuration.metrics?.description ?? "(off)"),
            ]
            if json {
                Terminal.printJSON(Dictionary(uniqueKeysWithValues: fields) as [String: Any])
            } else {
                Terminal.printFields(fields)
                print("configuration is valid")
            }
        }
    }
}
