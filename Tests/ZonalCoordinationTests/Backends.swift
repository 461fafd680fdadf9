import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import ZonalCore
import ZonalObservability
import ZonalTesting

@testable import ZonalCoordination

/// The backends the conformance suite runs against.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    /// EmbeddedCoordinator called in process.
    case embedded
    /// EmbeddedCoordinator behind CoordinatorServer, reached by EtcdCoordinator over loopback.
    case embeddedServer
    /// A real etcd 3.4 (Debian's etcd-server), reached by EtcdCoordinator.
    case etcd

    var testDescription: String { rawValue }

    func start() async throws -> BackendFixture {
        switch self {
        case .embedded:
            let coordinator = try EmbeddedCoordinator(directory: nil)
            return BackendFixture(coordinator: coordinator, forceReconnect: { await coordinator.disconnectWatchers() }, stop: {})
        case .embeddedServer:
            let server = try await EmbeddedServerFixture.start(directory: nil)
            return BackendFixture(coordinator: server.client, forceReconnect: { server.client.interruptWatches() }, stop: { await server.stop() })
        case .etcd:
            let etcd = try await EtcdFixture()
            let client = try EtcdCoordinator(endpoints: etcd.endpoints)
            return BackendFixture(coordinator: client, forceReconnect: { client.interruptWatches() }, stop: { await etcd.stop() })
        }
    }
}

struct BackendFixture: Sendable {
    let coordinator: any Coordinator
    /// Cuts every open watch connection.
    let forceReconnect: @Sendable () async -> Void
    let stop: @Sendable () async -> Void
}

/// `zonal coordinator serve` in process: an EmbeddedCoordinator served on a random loopback address.
struct EmbeddedServerFixture: Sendable {
    let coordinator: EmbeddedCoordinator
    /// Logged in with the admin token the server wants.
    let client: EtcdCoordinator
    let group: ServiceGroup
    let running: Task<Void, any Error>
    let endpoint: String

    static func start(directory: String?) async throws -> EmbeddedServerFixture {
        let coordinator = try EmbeddedCoordinator(directory: directory)
        let host = LoopbackAddress.random()
        let logger = Logger(label: "test.coordinator")
        let token = AdminToken.generate()
        let application = CoordinatorServer(coordinator: coordinator, tokens: AdminTokenSource(fixed: token)).application(
            host: host, port: 2379, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [application], logger: logger))
        let running = Task { try await group.run() }
        let endpoint = "http://\(host):2379"
        let client = try EtcdCoordinator(endpoints: [endpoint], credentials: .init(user: CoordinatorServer.user, password: token.secret))
        let up = await poll(timeout: .seconds(10)) { (try? await client.status()) != nil }
        guard up != nil else { throw FixtureError("the embedded coordinator server did not start on \(endpoint)") }
        return EmbeddedServerFixture(coordinator: coordinator, client: client, group: group, running: running, endpoint: endpoint)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
    }
}

/// Runs `body` against a fresh backend and always stops it.
func withBackend(_ backend: Backend, _ body: (BackendFixture) async throws -> Void) async throws {
    let fixture = try await backend.start()
    do {
        try await body(fixture)
    } catch {
        await fixture.stop()
        throw error
    }
    await fixture.stop()
}

/// A coordinator seen through a network that can be cut: while partitioned every call fails as
/// unreachable, as for a node cut off from the coordinator.
final class PartitionableCoordinator: Coordinator {
    let base: any Coordinator
    private let cut = Mutex(false)

    init(_ base: any Coordinator) { self.base = base }

    var partitioned: Bool {
        get { cut.withLock { $0 } }
        set { cut.withLock { $0 = newValue } }
    }

    private func check() throws(CoordinatorError) {
        if partitioned { throw .unreachable(endpoints: ["partitioned"], reason: "network partition") }
    }

    func get(_ key: String) async throws(CoordinatorError) -> KeyValue? {
        try check()
        return try await base.get(key)
    }
    func range(prefix: String) async throws(CoordinatorError) -> RangeResult {
        try check()
        return try await base.range(prefix: prefix)
    }
    func put(_ key: String, value: [UInt8], lease: LeaseID?) async throws(CoordinatorError) -> Int64 {
        try check()
        return try await base.put(key, value: value, lease: lease)
    }
    func delete(_ key: String) async throws(CoordinatorError) -> Bool {
        try check()
        return try await base.delete(key)
    }
    func transaction(_ transaction: Transaction) async throws(CoordinatorError) -> TransactionResult {
        try check()
        return try await base.transaction(transaction)
    }
    func grantLease(ttl: Duration) async throws(CoordinatorError) -> Lease {
        try check()
        return try await base.grantLease(ttl: ttl)
    }
    func renewLease(_ id: LeaseID) async throws(CoordinatorError) -> Duration {
        try check()
        return try await base.renewLease(id)
    }
    func revokeLease(_ id: LeaseID) async throws(CoordinatorError) {
        try check()
        try await base.revokeLease(id)
    }
    func timeToLive(_ id: LeaseID) async throws(CoordinatorError) -> Duration? {
        try check()
        return try await base.timeToLive(id)
    }
    func watch(prefix: String, fromRevision revision: Int64) -> AsyncThrowingStream<WatchEvent, any Error> {
        if partitioned {
            return AsyncThrowingStream { $0.finish(throwing: CoordinatorError.unreachable(endpoints: ["partitioned"], reason: "network partition")) }
        }
        return base.watch(prefix: prefix, fromRevision: revision)
    }
    func compact(through revision: Int64) async throws(CoordinatorError) {
        try check()
        try await base.compact(through: revision)
    }
    func status() async throws(CoordinatorError) -> CoordinatorStatus {
        try check()
        return try await base.status()
    }
}
