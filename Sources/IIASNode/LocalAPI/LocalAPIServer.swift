import Foundation
import IIASAPI
import IIASModel
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The node's local API: HTTP/1.1 + JSON on a Unix domain socket, so that only local
/// users reach it and the kernel tells us who they are (SO_PEERCRED) — the CLI, scripts
/// and `curl --unix-socket` all speak it. Routes and errors: Docs.docc/LocalAPI.md.
public final class LocalAPIServer: Service, Sendable {
    public let socketPath: String
    let group: String?
    let router: APIRouter
    let logger: Logger
    let maxRequestBytes: Int
    let maxEventBacklogBytes: Int
    let connections: ConnectionLimiter
    let access: APIAccess
    let requestTimeout: TimeAmount
    let onReady: @Sendable () -> Void

    /// `maxConnections` bounds the connections open at once, `maxConnectionsPerUser` those
    /// of one uid in `users` (so that one operator's runaway script cannot take every
    /// place); a uid not in `users` may hold `refusedUserConnections`.
    public init(socketPath: String, group: String?, users: [String: Role], operations: any NodeOperations,
                center: CenterID, maxRequestBytes: Int = 2 << 20, maxEventBacklogBytes: Int = 8 << 20, maxConnections: Int = 256,
                maxConnectionsPerUser: Int = 128, requestTimeout: TimeAmount = LocalAPIServer.defaultRequestTimeout,
                requestDeadlines: RequestDeadlines = RequestDeadlines(), logger: Logger,
                onReady: @escaping @Sendable () -> Void = {}) {
        self.socketPath = socketPath
        self.requestTimeout = requestTimeout
        self.onReady = onReady
        self.group = group
        self.logger = logger
        self.maxRequestBytes = maxRequestBytes
        self.maxEventBacklogBytes = maxEventBacklogBytes
        connections = ConnectionLimiter(total: maxConnections, perAddress: maxConnectionsPerUser, what: "local API",
                                        metric: "iias_api_connections", logger: logger)
        access = APIAccess(users: users, logger: logger)
        router = APIRouter(operations: operations, access: access, center: center, requestDeadlines: requestDeadlines, logger: logger)
    }

    /// Replaces the allow-list (SIGHUP): connections of users it removes, or whose role
    /// it changes, are closed at once (event streams included); their next request is
    /// refused at the door. Returns how many connections were closed.
    @discardableResult
    public func reload(users: [String: Role]) -> Int { access.reload(users: users) }

    /// Binds the socket, serves until graceful shutdown, then removes the socket file.
    public func run() async throws {
        let channel = try await bind()
        onReady()
        try? await gracefulShutdown()
        try? await channel.close()
        unlink(socketPath)
    }

    /// Connections one uid outside `api.users` may hold at once: each only waits for its
    /// request's head to be told 403, so a few are plenty, and a flood of them cannot take
    /// the places the operators need.
    static let refusedUserConnections = 4

    /// How long a whole request may take to arrive, from the connection's opening or the
    /// previous answer (`limits.apiRequestSeconds`); an event stream is not timed once its
    /// request is in.
    public static let defaultRequestTimeout = TimeAmount.seconds(30)

    /// Binds (replacing only a stale socket nobody listens on) and sets mode 0660 and the group.
    public func bind() async throws -> Channel {
        try removeStaleSocket()
        let router = self.router, limit = maxRequestBytes, backlog = maxEventBacklogBytes, logger = self.logger, timeout = requestTimeout
        let connections = self.connections, access = self.access
        let channel = try await ListenFailure.binding("api.socket", socketPath) { try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                // Who is calling is asked of the kernel as the connection is accepted, before
                // a byte is read. Past `limits.maxAPIConnections` in all, or
                // `limits.maxAPIConnectionsPerUser` from this uid, it is closed at once.
                PeerCredentials.of(channel).flatMap { peer in
                    let uid = peer?.uid
                    let admission = access.decide(uid: uid)
                    guard connections.admit(channel, from: uid.map { "uid \($0)" },
                                            atMost: admission.actor == nil ? Self.refusedUserConnections : nil) else {
                        return channel.eventLoop.makeSucceededVoidFuture()
                    }
                    if let actor = admission.actor { access.track(channel, as: actor) }
                    // The node writes only headers of its own, fixed names and values: checking
                    // them on every response would cost each answer and event line a handler pass.
                    return channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true, withOutboundHeaderValidation: false).flatMapThrowing {
                        try channel.pipeline.syncOperations.addHandler(APIHandler(router: router, admission: admission, uid: uid, maxRequestBytes: limit,
                                                                                   maxEventBacklogBytes: backlog, requestTimeout: timeout, logger: logger))
                    }
                }
            }
            .bind(unixDomainSocketPath: socketPath).get() }
        if let group {
            guard let entry = getgrnam(group) else {
                try? await channel.close()
                throw APIServerError("api.group: no group named \(group) on this machine (create it, or remove api.group)")
            }
            guard chown(socketPath, getuid(), entry.pointee.gr_gid) == 0 else {
                try? await channel.close()
                throw APIServerError("cannot give \(socketPath) to group \(group): \(String(cString: strerror(errno)))")
            }
        }
        guard chmod(socketPath, 0o660) == 0 else {
            try? await channel.close()
            throw APIServerError("cannot set mode 0660 on \(socketPath): \(String(cString: strerror(errno)))")
        }
        logger.info("local API listening", metadata: ["socket": "\(socketPath)", "group": "\(group ?? "(daemon's)")"])
        return channel
    }

    private func removeStaleSocket() throws {
        var info = stat()
        guard lstat(socketPath, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw APIServerError("\(socketPath) exists and is not a socket; refusing to replace it (remove it or change api.socket)")
        }
        if let probe = UnixDomainSocket.connect(socketPath) {
            close(probe)
            throw APIServerError("another process is listening on \(socketPath) (is a node already running?)")
        }
        unlink(socketPath)
    }
}

/// A blocking client connection to a Unix socket: the probe for a stale API socket, and
/// tests that speak raw bytes to the API.
package enum UnixDomainSocket {
    /// A connected descriptor, or nil when nothing listens at `path`.
    package static func connect(_ path: String) -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { close(fd); return nil }
        return fd
    }
}

/// A start-up problem of the local API, worded for the administrator.
public struct APIServerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

