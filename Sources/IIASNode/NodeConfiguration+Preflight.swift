import Foundation
import IIASAPI

/// What `iias node run` would otherwise fail on only after start-up began — a group that
/// does not exist, a socket folder it cannot write, two listeners on one address, a port
/// another process holds — checked by `iias node check-config` (and, all but the ports,
/// by `run` before it opens anything), each as a `Problem` naming its key.
extension NodeConfiguration {
    /// Checks the machine against the configuration; `probePorts` also binds each TCP
    /// address for a moment to see that it is free (not in `run`, which binds for real).
    public func checkEnvironment(probePorts: Bool) throws(Problem) {
        if let socketGroup, getgrnam(socketGroup) == nil {
            throw Problem(key: "api.group", message: "no group named \(socketGroup) on this machine (create it: groupadd --system \(socketGroup); or remove api.group)")
        }
        let folder = (socketPath as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Problem(key: "api.socket", message: "the socket's folder \(folder) does not exist (create it, or under systemd set RuntimeDirectory=)")
        }
        guard access(folder, W_OK | X_OK) == 0 else {
            throw Problem(key: "api.socket", message: "the socket's folder \(folder) is not writable by this user (uid \(getuid())): give the node's user that folder, or choose another")
        }
        if let metrics, Self.overlap(metrics, listen) {
            throw Problem(key: "metrics.listen", message: "\(metrics) is also the peer port (listen \(listen)): give the metrics endpoint a port of its own, e.g. \(metrics.host):9464")
        }
        guard probePorts else { return }
        for (key, address) in [("listen", listen)] + (metrics.map { [("metrics.listen", $0)] } ?? []) where address.port != 0 {
            if let failure = Self.probe(key: key, address) { throw Problem(key: key, message: failure.message) }
        }
    }

    /// Whether two listeners would want the same port on the same (or every) address.
    static func overlap(_ a: Address, _ b: Address) -> Bool {
        guard a.port == b.port, a.port != 0 else { return false }
        let everywhere: Set<String> = ["0.0.0.0", "::", "*"]
        return a.host == b.host || everywhere.contains(a.host) || everywhere.contains(b.host)
    }

    /// Binds `address` for a moment (as the node would: SO_REUSEADDR); nil when free.
    static func probe(key: String, _ address: Address) -> ListenFailure? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var found: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(address.host, String(address.port), &hints, &found)
        guard resolved == 0, let first = found else {
            return ListenFailure(key: key, address: address.description, reason: String(cString: gai_strerror(resolved)), code: nil)
        }
        defer { freeaddrinfo(found) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { return ListenFailure(key: key, address: address.description, reason: String(cString: strerror(errno)), code: errno) }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0, Glibc.listen(fd, 1) == 0 else {
            let code = errno
            return ListenFailure(key: key, address: address.description, reason: String(cString: strerror(code)), code: code)
        }
        return nil
    }
}
