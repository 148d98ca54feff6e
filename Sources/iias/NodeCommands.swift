import ArgumentParser
import Foundation
import IIASCrypto
import IIASLog
import IIASNode
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// `iias node …`: run a center's node, or check its configuration.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run this center's node, or check its configuration.",
        subcommands: [Run.self, CheckConfig.self]
    )

    static let example = """
    Example configuration (JSON; relative paths are relative to the file;
    Scripts/node.example.json is a complete one):
      {
        "center": "AZ",
        "keys": "pki/centers/AZ",          (signing, encryption, tls .key/.crt)
        "keyPassphraseFile": "az.pass",    (for encrypted keys: first line, 0600;
                                            or "keyPassphraseCredential": NAME,
                                            read from $CREDENTIALS_DIRECTORY/NAME)
        "ca": "pki/ca.crt",
        "crl": "pki/crl.pem",              (required; "none" runs without
                                            revocation checks, deliberately)
        "certificates": "pki/centers",     (the peers' certificates)
        "listen": "0.0.0.0:7443",
        "peers": ["GE=ge.example:7443", "UA=ua.example:7443"],
        "data": "/var/lib/iias",
        "api": { "socket": "/run/iias/iias.sock", "group": "iias",
                 "users": ["alice=operator", "audit=auditor"] },
        "metrics": { "listen": "127.0.0.1:9464" },
        "limits": { "maxFrameBytes": 16777216, "queueDepth": 100000,
                    "window": 64, "retryInitialSeconds": 1,
                    "retryMaxSeconds": 300, "clockSkewSeconds": 300 },
        "treeHeadIntervalSeconds": 60,
        "certificateRescanSeconds": 300,
        "requests": { "deadlineHours": { "flash": 8, "urgent": 72,
                                         "routine": 168 },
                      "checkSeconds": 60 },  (a request sent without a deadline
                                            gets one by priority; checked for
                                            `iias requests`, watch and metrics)
        "envelopeVersion": 3               (2 or 1 while a peer still runs a build
                                            that reads only versions up to it)
      }
    A key the node does not know is an error that names the nearest known one.
    Any key can be set from the environment: IIAS_ and the key in capitals,
    dots and camel case as underscores: IIAS_LISTEN, IIAS_API_SOCKET,
    IIAS_LIMITS_MAX_FRAME_BYTES, IIAS_PEERS="GE=ge.example:7443,UA=…".
    """

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

        func run() async throws {
            guard let level = Logger.Level(rawValue: logLevel) else {
                throw CLIFailure.usage("--log-level \(logLevel) is not a level", hint: "trace, debug, info, notice, warning, error or critical")
            }
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

            let node: Node
            do { node = try Node(configuration: configuration, logger: logger) } catch let problem as NodeConfiguration.Problem {
                throw CLIFailure.usage("configuration \(config): \(problem)", hint: "`iias node check-config \(config)` checks it without starting")
            } catch LogStoreError.inUse(let directory) {
                throw CLIFailure.invalid("cannot start: \(directory) is open in another process",
                                         hint: "a node already runs on this data directory; stop it first (`iias status` asks it), or give this one its own `data`")
            } catch {
                throw CLIFailure.invalid("cannot start: \(error)", hint: "the node refuses to run on a damaged log; `iias log verify \(configuration.dataDirectory)/log` reports where")
            }
            // One line on standard output once every listener is open — the peer port, the
            // API socket and the metrics endpoint (scripts and tests wait for it); a node
            // that fails to open one never prints it.
            let ready = ReadyLine(parts: configuration.metrics == nil ? 2 : 3)
            let api = LocalAPIServer(socketPath: configuration.socketPath, group: configuration.socketGroup, users: configuration.users,
                                     operations: node, center: configuration.center,
                                     maxRequestBytes: configuration.limits.maxRequestBytes,
                                     maxEventBacklogBytes: configuration.limits.maxEventBacklogBytes,
                                     maxConnections: configuration.limits.maxAPIConnections,
                                     maxConnectionsPerUser: configuration.limits.maxAPIConnectionsPerUser,
                                     requestTimeout: .nanoseconds(Int64(configuration.limits.apiRequestSeconds * 1e9)),
                                     requestDeadlines: configuration.requests, logger: logger) { ready.report(nil) }
            var services: [any Service] = [
                NodeService(node: node, configurationFile: config, onReady: { port in
                    ready.report("ready center=\(configuration.center) port=\(port) socket=\(configuration.socketPath)")
                }, onReload: { fresh in api.reload(users: fresh.users) }),
                api,
            ]
            if let metrics = configuration.metrics {
                services.append(MetricsEndpoint(host: metrics.host, port: metrics.port, registry: registry, logger: logger) { ready.report(nil) })
            }
            let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                          gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            do { try await group.run() } catch let failure as ListenFailure {
                throw CLIFailure.usage("configuration \(config): \(failure)")
            } catch let failure as APIServerError {
                throw CLIFailure.usage("configuration \(config): \(failure)")
            } catch {
                throw CLIFailure.invalid("the node stopped: \(error)")
            }
        }
    }

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

/// Prints the "ready" line once every part of the node has reported in.
final class ReadyLine: @unchecked Sendable {
    private let lock = NSLock()
    private var left: Int
    private var line: String?

    init(parts: Int) { left = parts }

    func report(_ text: String?) {
        lock.lock()
        defer { lock.unlock() }
        if let text { line = text }
        left -= 1
        if left == 0, let line { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
    }
}
