import Synchronization
import ZonalCore

/// The clients of a ``CoordinatorServer``: the sessions their logins open, and what each holds
/// under ``ClientQuotas``.
///
/// As on etcd's gateway, `auth/authenticate` answers with a token that later calls present.
/// Here each login gets a token of its own, `<session>.<secret>`, so the server can tell one
/// client from another: the secret is compared in constant time, and a session is valid only
/// while the admin token it was opened with is in force (rotating the admin token ends every
/// session). When too many sessions are open, the one unused longest is closed; its client is
/// refused once and logs in again. A client presenting the admin token itself is the client
/// `admin`.
final class CoordinatorClients: Sendable {
    private struct Session {
        var secret: AdminToken
        var openedUnder: AdminToken
        var lastUse: UInt64
    }

    private struct State {
        var sessions: [String: Session] = [:]
        var uses: UInt64 = 0
        var quotas: ClientQuotas
    }

    /// The client that presents the admin token rather than a session's token.
    static let admin = "admin"

    let maximumSessions: Int
    private let state: Mutex<State>

    init(quotas: ClientQuotas.Limits = .init(), maximumSessions: Int = 1_024) {
        self.maximumSessions = max(maximumSessions, 1)
        state = Mutex(State(quotas: ClientQuotas(limits: quotas)))
    }

    // MARK: sessions

    /// Opens a session for a client that proved the admin token `admin`; returns its token.
    func login(under admin: AdminToken) -> String {
        let id = String(SecretFile.randomSecret().prefix(16))
        let secret = AdminToken.generate()
        state.withLock { state in
            state.uses += 1
            state.sessions[id] = Session(secret: secret, openedUnder: admin, lastUse: state.uses)
            while state.sessions.count > maximumSessions, let idle = state.sessions.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
                state.sessions[idle] = nil
                state.quotas.forget(idle)
            }
        }
        return "\(id).\(secret.secret)"
    }

    /// The client `presented` (an `Authorization` value) names, if it is the admin token or
    /// the token of an open session opened under it; nil otherwise.
    func client(presenting presented: Substring, admin: AdminToken) -> String? {
        guard let dot = presented.firstIndex(of: ".") else { return admin.matches(presented) ? Self.admin : nil }
        let id = String(presented[..<dot])
        let secret = presented[presented.index(after: dot)...]
        return state.withLock { state in
            guard var session = state.sessions[id], session.openedUnder == admin, session.secret.matches(secret) else { return nil }
            state.uses += 1
            session.lastUse = state.uses
            state.sessions[id] = session
            return id
        }
    }

    var sessionCount: Int { state.withLock { $0.sessions.count } }

    // MARK: quotas

    /// Refuses another lease for `client` when it holds its limit of leases that still exist.
    func admitLease(for client: String, in coordinator: EmbeddedCoordinator) async throws(CoordinatorError) {
        let recheck = state.withLock { $0.quotas.leasesToRecheck(for: client) }
        let stillHeld = await recheck.asyncMap { await coordinator.existing(keys: [], leases: $0).leases }
        try state.withLock { state throws(CoordinatorError) in try state.quotas.admitLease(for: client, stillHeld: stillHeld) }
    }

    func granted(_ lease: LeaseID, to client: String, in coordinator: EmbeddedCoordinator) async {
        state.withLock { $0.quotas.granted(lease, to: client) }
        await pruneIfNeeded(coordinator)
    }

    func revoked(_ lease: LeaseID, by client: String) {
        state.withLock { $0.quotas.revoked(lease, by: client) }
    }

    /// Refuses writing `keys` when `client` would then have written more than its limit of keys
    /// that still exist; otherwise counts them as its own.
    func admitKeys(_ keys: [String], for client: String, in coordinator: EmbeddedCoordinator) async throws(CoordinatorError) {
        guard !keys.isEmpty else { return }
        let recheck = state.withLock { $0.quotas.keysToRecheck(for: client, writing: keys) }
        let stillHeld = await recheck.asyncMap { await coordinator.existing(keys: $0, leases: []).keys }
        try state.withLock { state throws(CoordinatorError) in try state.quotas.admitKeys(keys, for: client, stillHeld: stillHeld) }
        await pruneIfNeeded(coordinator)
    }

    func deleted(_ keys: [String], by client: String) {
        state.withLock { $0.quotas.deleted(keys, by: client) }
    }

    func holdings(of client: String) -> ClientQuotas.Holdings {
        state.withLock { $0.quotas.holdings[client] ?? .init() }
    }

    private func pruneIfNeeded(_ coordinator: EmbeddedCoordinator) async {
        guard let all = state.withLock({ $0.quotas.needsPruning ? $0.quotas.allHoldings : nil }) else { return }
        let existing = await coordinator.existing(keys: all.keys, leases: all.leases)
        state.withLock { $0.quotas.prune(keeping: existing.keys, leases: existing.leases) }
    }
}

extension Optional {
    fileprivate func asyncMap<T>(_ transform: (Wrapped) async -> T) async -> T? {
        guard let self else { return nil }
        return await transform(self)
    }
}
