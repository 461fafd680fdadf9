import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import ZonalCore

/// A listener that binds first and accepts until its channel is closed, so that whoever
/// starts it learns at once whether its port could be had.
protocol BalancerListener: Sendable {
    /// Binds; every connection accepted is known to `tracker`.
    func bind(tracker: ConnectionTracker) async throws -> any Channel
}

extension BalancerListener {
    /// Binds and accepts until graceful shutdown; established connections are left to finish.
    func serveUntilShutdown() async throws {
        let server = try await bind(tracker: ConnectionTracker())
        try? await gracefulShutdown()
        try await server.close()
    }
}

/// The open client connections of one listener, so that those of a listener a reload removed
/// can be closed once its drain time is over.
final class ConnectionTracker: Sendable {
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])

    var count: Int { open.withLock { $0.count } }

    func add(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        open.withLock { $0[key] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in _ = self?.open.withLock { $0.removeValue(forKey: key) } }
    }

    func closeAll() {
        for channel in open.withLock({ Array($0.values) }) { channel.close(promise: nil) }
    }

    /// Sits in a listening channel's pipeline, where each accepted connection passes.
    final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = any Channel
        typealias InboundOut = any Channel

        private let tracker: ConnectionTracker

        init(tracker: ConnectionTracker) {
            self.tracker = tracker
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            tracker.add(unwrapInboundIn(data))
            context.fireChannelRead(data)
        }
    }
}

/// The listeners of a balancer instance, changed in place by a reload: a listener that is new
/// is bound, one whose configuration changed is replaced (the old one stops accepting, then the
/// new one binds), and one that is gone stops accepting while its connections finish, up to
/// the drain timeout, after which those still open are closed.
actor ListenerSet {
    /// What one listener runs with; any change replaces the listener.
    struct Configuration: Sendable, Hashable {
        var listener: BalancerPlan.Listener
        var http: HTTPSpec
        var connections: ConnectionLimits
        /// Bumped when the listener's pool was made anew, which its connections must follow.
        var poolGeneration: Int
    }

    /// What one ``apply(_:make:)`` did, by listener name.
    struct Outcome: Sendable {
        var started: [String] = []
        var replaced: [String] = []
        var removed: [String] = []
        var failed: [String: String] = [:]
    }

    private struct Bound {
        var configuration: Configuration
        var server: any Channel
        var tracker: ConnectionTracker
    }

    private var bound: [String: Bound] = [:]
    /// Between ``start(_:make:)`` and ``closeAll()``: a reload before the balancer runs, or
    /// after it stopped, binds nothing.
    private var isRunning = false
    private let clock: any ZonalClock
    private let logger: Logger

    init(clock: any ZonalClock, logger: Logger) {
        self.clock = clock
        self.logger = logger
    }

    /// Binds the listeners of `wanted`.
    func start(_ wanted: [Configuration], make: (Configuration) -> Result<any BalancerListener, any Error>) async -> Outcome {
        isRunning = true
        return await apply(wanted, make: make)
    }

    /// Makes the running listeners those of `wanted`; `make` builds a listener, or fails when it
    /// cannot (its certificate does not load, say: reported as failed, an old one keeps running).
    func apply(_ wanted: [Configuration], make: (Configuration) -> Result<any BalancerListener, any Error>) async -> Outcome {
        var outcome = Outcome()
        guard isRunning else { return outcome }
        let wantedNames = Set(wanted.map(\.listener.name))
        for (name, old) in bound where !wantedNames.contains(name) {
            await retire(old)
            bound[name] = nil
            outcome.removed.append(name)
        }
        for configuration in wanted {
            let name = configuration.listener.name
            let old = bound[name]
            guard old?.configuration != configuration else { continue }
            let listener: any BalancerListener
            switch make(configuration) {
            case .success(let made): listener = made
            case .failure(let error):
                outcome.failed[name] = "\(error)"
                continue
            }
            // The old listener lets go of its port first; its connections drain meanwhile.
            if let old { await retire(old) }
            bound[name] = nil
            let tracker = ConnectionTracker()
            do {
                bound[name] = Bound(configuration: configuration, server: try await listener.bind(tracker: tracker), tracker: tracker)
                if old == nil { outcome.started.append(name) } else { outcome.replaced.append(name) }
            } catch {
                outcome.failed[name] = "cannot listen on \(configuration.listener.host):\(configuration.listener.port): \(error)"
            }
        }
        return outcome
    }

    /// Stops every listener from accepting; established connections finish on their own.
    func closeAll() async {
        isRunning = false
        for old in bound.values { try? await old.server.close() }
        bound = [:]
    }

    /// Stops `old` accepting, and closes what is still open of its connections after the drain
    /// timeout.
    private func retire(_ old: Bound) async {
        try? await old.server.close()
        let tracker = old.tracker
        let drain = old.configuration.connections.drainTimeout
        let name = old.configuration.listener.name
        let open = tracker.count
        guard open > 0 else { return }
        logger.notice("listener stopped accepting; its connections drain", metadata: ["listener": "\(name)", "open": "\(open)", "deadline": "\(drain)"])
        let clock = clock
        Task {
            try? await clock.sleep(for: drain)
            tracker.closeAll()
        }
    }
}
