import Foundation

/// A real PKI made by `Scripts/pki.sh` (the openssl CLI) in a temporary folder, once
/// per test process: a root CA, the four GUAM centers and a fifth (TJ) that is never
/// addressed; a center whose certificates expired (EX); a revoked center (RV); and a
/// foreign CA that issued its own "AZ". Removed when the process exits.
public final class TestPKI: Sendable {
    public let root: URL
    public let foreignRoot: URL

    public static let shared: TestPKI = {
        do { return try TestPKI() } catch { fatalError("cannot create the test PKI: \(error)") }
    }()

    public static let centers = ["AZ", "GE", "UA", "MD", "TJ"]

    private init() throws {
        let base = FileManager.default.temporaryDirectory
            .appendingPathComponent("iias-test-pki-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        root = base.appendingPathComponent("pki")
        foreignRoot = base.appendingPathComponent("foreign")
        registerCleanup(base)
        try Self.pki("init-ca", root.path)
        for center in Self.centers { try Self.pki("issue", root.path, center) }
        try Self.pki("issue", root.path, "EX", "--not-before", "20200101000000Z", "--not-after", "20210101000000Z")
        try Self.pki("issue", root.path, "RV")
        try Self.pki("revoke", root.path, "RV")
        try Self.pki("init-ca", foreignRoot.path, "--name", "Foreign Root CA")
        try Self.pki("issue", foreignRoot.path, "AZ")
    }

    public var layout: PKILayout { PKILayout(root: root.path) }

    /// A copy of this PKI in a fresh temporary folder, for a test that re-signs its CRL,
    /// rotates or revokes: what it does there touches no other test.
    public func privateCopy(_ label: String) throws -> PKILayout {
        let folder = try makeTemporaryDirectory(label).appendingPathComponent("pki")
        try FileManager.default.copyItem(at: root, to: folder)
        return PKILayout(root: folder.path)
    }

    public var caFile: String { root.appendingPathComponent("ca.crt").path }
    public var crlFile: String { root.appendingPathComponent("crl.pem").path }
    public var centersDirectory: String { root.appendingPathComponent("centers").path }

    public func centerDirectory(_ id: String) -> String {
        root.appendingPathComponent("centers").appendingPathComponent(id).path
    }

    public func foreignCenterDirectory(_ id: String) -> String {
        foreignRoot.appendingPathComponent("centers").appendingPathComponent(id).path
    }

    /// Runs `Scripts/pki.sh -q ARGS…` and fails loudly with its output.
    public static func pki(_ arguments: String...) throws {
        let result = try ProcessRunner.run(RepositoryPaths.script("pki.sh"), ["-q"] + arguments, timeout: 120)
        guard result.status == 0 else {
            throw TestFailure("pki.sh \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
    }
}

/// Where the repository's files are, found from this source file's location.
public enum RepositoryPaths {
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func script(_ name: String) -> String {
        root.appendingPathComponent("Scripts").appendingPathComponent(name).path
    }

    /// The built `iias` executable next to the test bundle (swift build puts both in one folder).
    public static var iiasExecutable: String { executable("iias") }

    /// A built executable of this package (`iias`, `iias-fault-proxy`, …) next to the test bundle.
    public static func executable(_ name: String) -> String {
        let candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
            + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for folder in candidates {
            let path = folder.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return root.appendingPathComponent(".build/debug/\(name)").path
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

private let cleanupPaths = CleanupList()

private final class CleanupList: @unchecked Sendable {
    private let lock = NSLock()
    private var paths: [URL] = []
    func add(_ url: URL) { lock.lock(); paths.append(url); lock.unlock() }
    func removeAll() {
        lock.lock(); defer { lock.unlock() }
        for url in paths { try? FileManager.default.removeItem(at: url) }
        paths.removeAll()
    }
}

/// Removes `url` when the test process exits.
public func registerCleanup(_ url: URL) {
    struct Once { nonisolated(unsafe) static var registered = false }
    cleanupPaths.add(url)
    if !Once.registered {
        Once.registered = true
        atexit { cleanupPaths.removeAll() }
    }
}

/// A fresh temporary folder, removed at process exit.
public func makeTemporaryDirectory(_ label: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("iias-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    registerCleanup(url)
    return url
}
