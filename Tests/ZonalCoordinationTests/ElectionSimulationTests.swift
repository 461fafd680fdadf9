import Logging
import Synchronization
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalCoordination

/// Elections on the embedded coordinator under a virtual clock, with seeded partitions and
/// resignations: at no instant may two candidates believe they lead.
@Suite("Election simulation")
struct ElectionSimulationTests {
    @Test("seeded schedules of partitions and resignations never give two leaders", arguments: 0..<12)
    func neverTwoLeaders(seed: UInt64) async throws {
        let clock = VirtualClock()
        let coordinator = try EmbeddedCoordinator(directory: nil, clock: clock)
        let settings = LeaderElection.Settings(ttl: .seconds(3))
        let links = (0..<3).map { _ in PartitionableCoordinator(coordinator) }
        let terms = TermLog()
        let end = MonotonicInstant.zero + .seconds(40)
        var logger = Logger(label: "simulation")
        logger.logLevel = .critical

        var tasks: [Task<Void, Never>] = []
        for (index, link) in links.enumerated() {
            tasks.append(
                Task {
                    var random = SeededRandom(seed: seed &* 31 &+ UInt64(index))
                    let election = LeaderElection(coordinator: link, name: "/sim/leader", settings: settings, clock: clock, logger: logger)
                    while clock.now < end, !Task.isCancelled {
                        do {
                            let leadership = try await election.campaign(value: "c\(index)")
                            let start = clock.now
                            try await clock.sleep(for: .milliseconds(Int64.random(in: 200...8000, using: &random)))
                            let stop = min(clock.now, leadership.validUntil)
                            terms.append(Term(value: "c\(index)", start: start, end: stop))
                            await leadership.resign()
                        } catch {
                            // Partitioned while campaigning: try again a little later.
                            try? await clock.sleep(for: .milliseconds(Int64.random(in: 100...1000, using: &random)))
                        }
                    }
                })
        }
        tasks.append(
            Task {
                var random = SeededRandom(seed: seed)
                while clock.now < end, !Task.isCancelled {
                    guard (try? await clock.sleep(for: .milliseconds(Int64.random(in: 300...4000, using: &random)))) != nil else { return }
                    let link = links[Int.random(in: 0..<links.count, using: &random)]
                    link.partitioned.toggle()
                }
            })
        let finished = await clock.run(maxSteps: 20_000) { clock.now >= end }
        tasks.forEach { $0.cancel() }
        #expect(finished, "seed \(seed): the simulation stalled at \(clock.now)")

        let all = terms.all.sorted { $0.start < $1.start }
        #expect(all.count >= 2, "seed \(seed): only \(all.count) terms")
        for (earlier, later) in zip(all, all.dropFirst()) {
            #expect(earlier.end <= later.start, "seed \(seed): \(earlier.value) led until \(earlier.end), \(later.value) from \(later.start)")
        }
    }
}
