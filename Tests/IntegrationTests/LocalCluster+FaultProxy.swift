import Foundation
import IIASTestSupport

extension LocalCluster {
    /// Starts a fault proxy in front of `target`'s peer port and writes `source`'s
    /// configuration to reach `target` through it (with `limits`); starts no node. Send the
    /// proxy "quit" when done.
    func faultProxy(from source: String, to target: String, limits: [String: Any]) throws -> RunningProcess {
        let proxy = try RunningProcess(RepositoryPaths.executable("iias-fault-proxy"),
                                       ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:\(ports[target]!)"])
        let banner = try proxy.nextLine()
        guard let port = banner.split(separator: ":").last.flatMap({ Int($0) }) else { throw TestFailure("fault proxy: \(banner)") }
        try writeConfiguration(source, pki: TestPKI.shared.layout, peers: [target], users: ["\(LocalCluster.currentUser)=operator"],
                               extra: ["limits": limits], addresses: [target: "127.0.0.1:\(port)"])
        return proxy
    }
}
