import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals
import ZonalHealth

extension NameServer {
    /// The UDP and TCP listeners, then the upkeep (health checks, SIGHUP reloads).
    /// `onListening` is told the UDP address once bound (port 0 picks a free one, which TCP then
    /// shares).
    public func services(onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) -> [any Service] {
        let plan = self.plan
        let bound = AsyncStream<Int>.makeStream()
        return [
            UDPListener(server: self, host: plan.host, port: plan.port) { address in
                bound.continuation.yield(address.port ?? plan.port)
                bound.continuation.finish()
                onListening(address)
            },
            PortFollowingTCPListener(
                ports: bound.stream,
                listener: { port in
                    TCPListener(server: self, host: plan.host, port: port, idleTimeout: plan.tcpIdleTimeout, maxConnections: plan.maxTCPConnections)
                }),
            Upkeep(server: self),
        ]
    }

    /// Probes every address of every health-checked name until cancelled, feeding verdicts in.
    func runHealthChecks() async {
        let plan = self.plan
        await withDiscardingTaskGroup { group in
            for record in plan.records {
                for (poolIndex, checks) in record.checks.enumerated() {
                    for (memberIndex, check) in checks.enumerated() {
                        guard let check else { continue }
                        let id = RecordRouting.MemberID(name: record.name, pool: poolIndex, member: memberIndex)
                        let monitor = HealthMonitor(
                            name: "\(record.name) \(check.host):\(check.port)", spec: check.spec,
                            probe: check.spec.makeProbe(host: check.host, port: check.port), logger: logger)
                        group.addTask {
                            await monitor.run { transition, _ in
                                self.setHealth(id, healthy: transition.to != .unhealthy, cause: "\(transition.reason)")
                            }
                        }
                    }
                }
            }
        }
    }

    /// Health checks and SIGHUP reloads for as long as the server runs; a reload restarts the
    /// checks so that they follow the new records.
    struct Upkeep: Service {
        let server: NameServer

        func run() async throws {
            let (reloads, reloaded) = AsyncStream<Void>.makeStream()
            server.onReload { reloaded.yield() }
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sighup) {
                        do { try server.reload() } catch {
                            server.logger.error("reload failed; the running zones stay", metadata: ["error": "\(error)"])
                        }
                    }
                }
                group.addTask {
                    var checks = Task { await server.runHealthChecks() }
                    for await _ in reloads {
                        checks.cancel()
                        checks = Task { await server.runHealthChecks() }
                    }
                    checks.cancel()
                }
                try? await gracefulShutdown()
                reloaded.finish()
                group.cancelAll()
            }
        }
    }
}

/// The TCP listener, started on the port the UDP listener got (the same number, as DNS wants).
struct PortFollowingTCPListener: Service {
    let ports: AsyncStream<Int>
    let listener: @Sendable (Int) -> TCPListener

    func run() async throws {
        for await port in ports {
            try await listener(port).run()
            return
        }
    }
}
