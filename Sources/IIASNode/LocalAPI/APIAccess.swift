import Foundation
import IIASAPI
import Logging
import NIOCore
import Synchronization

/// The local API's live allow-list and the connections it let in. SIGHUP replaces the
/// list (`reload`), and every open connection whose user the new list removes or gives
/// another role is closed at once — an event stream included — so that taking an
/// operator off `api.users` revokes their access now, not at the next restart.
final class APIAccess: Sendable {
    private struct State {
        var door: APIDoor
        var open: [ObjectIdentifier: (actor: LocalUser, channel: any Channel)] = [:]
        var lastRefusalWarning: [UInt32: ContinuousClock.Instant] = [:]
    }
    private let state: Mutex<State>
    private let logger: Logger

    init(users: [String: Role], logger: Logger) {
        state = Mutex(State(door: APIDoor(users: users)))
        self.logger = logger
    }

    /// The allow-list as it stands now.
    var door: APIDoor { state.withLock { $0.door } }

    /// The door's decision for `uid` against the list as it stands now.
    func decide(uid: UInt32?) -> APIDoor.Decision { door.decide(uid: uid, name: APIRouter.userName) }

    /// Remembers `channel`, admitted as `actor`, until it closes (so a reload can close it).
    func track(_ channel: any Channel, as actor: LocalUser) {
        let key = ObjectIdentifier(channel)
        state.withLock { $0.open[key] = (actor, channel) }
        channel.closeFuture.whenComplete { _ in _ = self.state.withLock { $0.open.removeValue(forKey: key) } }
    }

    /// Replaces the allow-list and closes the connections of users it removes or whose
    /// role it changes; returns how many were closed.
    @discardableResult
    func reload(users: [String: Role]) -> Int {
        let door = APIDoor(users: users)
        let revoked = state.withLock { state in
            state.door = door
            return state.open.values.filter { door.revokes($0.actor) }
        }
        for (_, channel) in revoked { channel.close(promise: nil) }
        let users = Set(revoked.map(\.actor.user)).sorted()
        logger.notice("api.users reloaded", metadata: ["users": "\(door.users.count)", "closedConnections": "\(revoked.count)",
                                                       "revokedUsers": "\(users.joined(separator: ","))"])
        return revoked.count
    }

    /// Whether a refusal of `uid` should be logged now: at most once every 10 s per uid,
    /// so that a local account knocking in a loop cannot fill the journal.
    func shouldLogRefusal(of uid: UInt32) -> Bool {
        let now = ContinuousClock.now
        return state.withLock { state in
            if let last = state.lastRefusalWarning[uid], now - last < .seconds(10) { return false }
            if state.lastRefusalWarning.count > 1024 { state.lastRefusalWarning.removeAll() }
            state.lastRefusalWarning[uid] = now
            return true
        }
    }

    /// Connections let in and still open (for tests).
    var openCount: Int { state.withLock { $0.open.count } }
}
