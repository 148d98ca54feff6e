import ArgumentParser
import Foundation
import IIASCrypto
import IIASLog
import IIASNode
import Logging
import Metrics
import Prometheus

extension NodeCommand {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the node until SIGTERM or SIGINT (SIGHUP reloads the CRL, certificates, peers and api.users).",
            discussion: NodeCommand.example + """


            Logs go to standard error (no plaintext, no keys). Exit codes:
            0 clean shutdown, 1 the log or keys are damaged (the message names
            the file), 2 the configuration is wrong (the message names the key).
            A systemd unit is in Scripts/iias-node.service.
            """
        )

        @Option(name: .long, help: ArgumentHelp("The node's configuration file (JSON).", valueName: "file"))
        var config: String

        @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
        var logLevel: String = "info"

        func validate() throws {
            guard Logger.Level(rawValue: logLevel) != nil else {
                throw CLIFailure.usage("--log-level \(logLevel) is not a level", hint: "trace, debug, info, notice, warning, error or critical")
            }
        }

        func run() async throws {
            let level = Logger.Level(rawValue: logLevel) ?? .info
            // Before any key is read: no core dumps, no ptrace, OpenSSL's secure heap.
            let hardening = ProcessHardening.apply()
            let configuration: NodeConfiguration
            do {
                configuration = try await NodeConfiguration.load(file: config)
                try configuration.checkEnvironment(probePorts: false)
            } catch {
                throw CLIFailure.usage("configuration \(config): \(error)", hint: "`iias node run --help` shows every key")
            }
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            var logger = Logger(label: "iias.node")
            logger[metadataKey: "center"] = "\(configuration.center)"
            if configuration.crlFile == nil {
                logger.warning("revocation is not checked: the configuration says \"crl\": \"none\"")
            }
            logger.log(level: hardening.notDumpable && hardening.coreLimitZero ? .info : .warning, "\(hardening)")
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

            let daemon: NodeDaemon
            do {
                daemon = try NodeDaemon(configuration: configuration, configurationFile: config, logger: logger, metricsRegistry: registry) { line in
                    // One line on standard output once every listener is open — the peer port,
                    // the API socket and the metrics endpoint (scripts and tests wait for it); a
                    // node that fails to open one never prints it.
                    FileHandle.standardOutput.write(Data((line + "\n").utf8))
                }
            } catch let problem as NodeConfiguration.Problem {
                throw CLIFailure.usage("configuration \(config): \(problem)", hint: "`iias node check-config \(config)` checks it without starting")
            } catch LogStoreError.inUse(let directory) {
                throw CLIFailure.invalid("cannot start: \(directory) is open in another process",
                                         hint: "a node already runs on this data directory; stop it first (`iias status` asks it), or give this one its own `data`")
            } catch {
                throw CLIFailure.invalid("cannot start: \(error)", hint: "the node refuses to run on a damaged log; `iias log verify \(configuration.dataDirectory)/log` reports where")
            }
            do { try await daemon.runService(gracefulShutdownSignals: [.sigterm, .sigint]) } catch let failure as ListenFailure {
                throw CLIFailure.usage("configuration \(config): \(failure)")
            } catch let failure as APIServerError {
                throw CLIFailure.usage("configuration \(config): \(failure)")
            } catch {
                throw CLIFailure.invalid("the node stopped: \(error)")
            }
        }
    }
}
