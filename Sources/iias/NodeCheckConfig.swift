import ArgumentParser
import IIASCrypto
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
            let hasWitness = CenterKeys.hasWitnessKey(in: configuration.keyDirectory)
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
                ("witness key", hasWitness ? CenterKeys.witnessCertificateFile : "none"),
            ]
            // Folders issued before witness keys existed still run; the operator learns what is missing.
            let warnings = hasWitness ? [] : ["no witness key (\(CenterKeys.witnessKeyFile), \(CenterKeys.witnessCertificateFile)) in \(configuration.keyDirectory): "
                + "this center cannot cosign its peers' checkpoints; the CA makes one with `pki.sh rotate DIR \(configuration.center) --keys witness`"]
            if json {
                var object = Dictionary(uniqueKeysWithValues: fields) as [String: Any]
                object["warnings"] = warnings
                Terminal.printJSON(object)
            } else {
                Terminal.printFields(fields)
                for warning in warnings { print("warning: \(warning)") }
                print("configuration is valid")
            }
        }
    }
}
