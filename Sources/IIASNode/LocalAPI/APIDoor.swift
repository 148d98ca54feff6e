import Foundation
import IIASAPI
import NIOHTTP1

/// Who may come through the local API's door. The decision is taken from the uid the
/// kernel reported (SO_PEERCRED) and the allow-list `api.users` alone — never from
/// anything the client says — once when the connection is accepted (so that a user who
/// is not allowed is answered 403 and closed as soon as the request's head arrives,
/// before any body is read) and again for every request (so that a user removed by
/// SIGHUP is refused even on a request already under way). A value: tested without
/// sockets or a user database.
struct APIDoor: Sendable, Equatable {
    /// The allow-list: account name → role.
    let users: [String: Role]

    /// What the door says about one caller.
    enum Decision: Sendable, Equatable {
        /// In the allow-list, with this role.
        case admitted(LocalUser)
        /// Known to the kernel, absent from the allow-list (`user` is the account name, or
        /// "uid N" when the user database has none).
        case notAllowed(user: String, uid: UInt32)
        /// The kernel did not report who is connected.
        case unidentified

        var actor: LocalUser? {
            if case .admitted(let actor) = self { return actor }
            return nil
        }

        /// The 403 that a caller who is not admitted gets; nil for one who is.
        var refusal: APIResponse? {
            switch self {
            case .admitted:
                nil
            case .notAllowed(let user, _):
                APIRouter.errorResponse(.forbidden, "user \(user) is not allowed on this node's socket",
                                        hint: "add \"\(user)=operator\" or \"\(user)=auditor\" to api.users in the node's configuration, then send the node SIGHUP (systemctl reload iias-node) or restart it")
            case .unidentified:
                APIRouter.errorResponse(.forbidden, "the kernel did not report who is connected (SO_PEERCRED)", hint: nil)
            }
        }
    }

    /// The decision for `uid` (nil: the kernel did not say); `name` maps a uid to its
    /// account name (the system's user database in the node).
    func decide(uid: UInt32?, name: (UInt32) -> String?) -> Decision {
        guard let uid else { return .unidentified }
        let user = name(uid) ?? "uid \(uid)"
        guard let role = users[user] else { return .notAllowed(user: user, uid: uid) }
        return .admitted(LocalUser(user: user, uid: uid, role: role))
    }

    /// Whether a connection admitted as `actor` must be closed once `self` replaces the
    /// list it was admitted under: its user was removed or given another role.
    func revokes(_ actor: LocalUser) -> Bool { users[actor.user] != actor.role }
}
