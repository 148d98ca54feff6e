// swift-tools-version: 6.0
// IIAS: the node software of an interstate informational analytical system.
// Modules depend one way only, down this list: CSodium/COpenSSL → IIASModel →
// IIASCrypto → IIASLog → (IIASAudit, IIASTransport, IIASAPI) → IIASNode → iias.
// IIASAudit and IIASAPI know nothing of the daemon: the CLI's operator and auditor
// commands use them alone; only `iias node run` and `check-config` link IIASNode.
import PackageDescription

let package = Package(
    name: "IIAS",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "iias", targets: ["iias"]),
        .library(name: "IIASModel", targets: ["IIASModel"]),
        .library(name: "IIASCrypto", targets: ["IIASCrypto"]),
        .library(name: "IIASLog", targets: ["IIASLog"]),
        .library(name: "IIASTransport", targets: ["IIASTransport"]),
        .library(name: "IIASAudit", targets: ["IIASAudit"]),
        .library(name: "IIASAPI", targets: ["IIASAPI"]),
        .library(name: "IIASNode", targets: ["IIASNode"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // Latency percentiles in the benchmarks only (not linked into the node).
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"]), .brew(["libsodium"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        .target(
            name: "IIASModel",
            resources: [.copy("Resources/notification.schema.json")]
        ),
        .target(
            name: "IIASCrypto",
            dependencies: ["CSodium", "COpenSSL", "IIASModel"]
        ),
        // The append-only verifiable log: records, CRC32C, RFC 9162 Merkle tree and proofs.
        .target(
            name: "IIASLog",
            dependencies: ["IIASCrypto", "IIASModel"]
        ),
        // The peer protocol: mutual TLS 1.3 on the system OpenSSL, frames, the peer session.
        .target(
            name: "IIASTransport",
            dependencies: [
                "IIASCrypto", "COpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The auditor's checks as a library: a whole log's records, tree, tree heads and signatures.
        .target(
            name: "IIASAudit",
            dependencies: ["IIASLog", "IIASCrypto", "IIASModel"]
        ),
        // The local API's contract (what goes over the socket, and the log entries it
        // lists) and its client: what the CLI and scripts link instead of the daemon.
        .target(
            name: "IIASAPI",
            dependencies: [
                "IIASModel", "IIASCrypto", "IIASLog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The daemon: configuration, exchange with peers, folds over the log, local API, metrics.
        .target(
            name: "IIASNode",
            dependencies: [
                "IIASModel", "IIASCrypto", "IIASLog", "IIASTransport", "IIASAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "iias",
            dependencies: [
                "IIASModel", "IIASCrypto", "IIASLog", "IIASTransport", "IIASAudit", "IIASAPI", "IIASNode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Measures the envelope against raw libsodium (Scripts/bench.sh, release build).
        .executableTarget(
            name: "iias-bench",
            dependencies: ["IIASModel", "IIASCrypto", "CSodium"]
        ),
        // Measures the log (Scripts/bench.sh, release build).
        .executableTarget(
            name: "iias-log-bench",
            dependencies: ["IIASLog"]
        ),
        // Measures the transport on loopback (Scripts/bench.sh, release build).
        .executableTarget(
            name: "iias-transport-bench",
            dependencies: [
                "IIASTransport", "IIASCrypto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // Measures real nodes end to end on loopback (Scripts/bench.sh, release build).
        .executableTarget(
            name: "iias-node-bench",
            dependencies: [
                "IIASNode", "IIASAPI", "IIASModel", "IIASTestSupport",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // A node and an auditor on a log of a million entries: start-up, memory, verify rate (Scripts/bench.sh).
        .executableTarget(
            name: "iias-scale-bench",
            dependencies: ["IIASNode", "IIASAPI", "IIASLog", "IIASCrypto", "IIASModel", "IIASTestSupport", "CSodium"]
        ),
        // One large attachment end to end against the raw limits (Scripts/bench.sh, release build).
        .executableTarget(
            name: "iias-attachment-bench",
            dependencies: ["IIASAPI", "IIASModel", "IIASTestSupport", "CSodium"]
        ),
        // The fault harness (Scripts/chaos.sh, ChaosTests): node processes under kill -9 and partitions, then an audit.
        .executableTarget(
            name: "iias-chaos",
            dependencies: ["IIASNode", "IIASAPI", "IIASModel", "IIASTestSupport"]
        ),
        // The parsers that take outside bytes, as fuzz targets with their properties.
        .target(
            name: "IIASFuzz",
            dependencies: ["IIASModel", "IIASCrypto", "IIASLog", "IIASTransport"]
        ),
        // libFuzzer entry (Scripts/fuzz.sh builds it with -DFUZZING) or a corpus replayer (normal builds).
        .executableTarget(
            name: "iias-fuzz",
            dependencies: ["IIASFuzz"]
        ),
        // Test helper (not a product): appends in a loop until SIGKILLed by the crash test.
        .executableTarget(
            name: "iias-log-crash-helper",
            dependencies: ["IIASLog"]
        ),
        // Test and chaos helper (not a product): a TCP proxy that passes, delays, blackholes or drops on command.
        .executableTarget(
            name: "iias-fault-proxy",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Shared by the test targets only: a real PKI made by Scripts/pki.sh, process runner.
        .target(
            name: "IIASTestSupport",
            dependencies: ["IIASModel", "IIASAPI"],
            path: "Sources/IIASTestSupport"
        ),
        .testTarget(
            name: "IIASModelTests",
            dependencies: ["IIASModel"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "IIASCryptoTests",
            dependencies: ["IIASCrypto", "IIASModel", "IIASTestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "IIASLogTests",
            dependencies: ["IIASLog", "IIASCrypto", "IIASModel", "IIASTestSupport"]
        ),
        .testTarget(
            name: "IIASTransportTests",
            dependencies: [
                "IIASTransport", "IIASCrypto", "COpenSSL", "IIASTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "IIASAuditTests",
            dependencies: ["IIASAudit", "IIASLog", "IIASCrypto", "IIASModel", "IIASTestSupport"]
        ),
        .testTarget(
            name: "IIASNodeTests",
            dependencies: [
                "IIASNode", "IIASAPI", "IIASLog", "IIASCrypto", "IIASModel", "IIASTransport", "IIASTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "IIASCrypto", "IIASLog", "IIASModel", "IIASTestSupport", "iias", "IIASTransport", "IIASAPI", "IIASNode", "IIASFuzz",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
