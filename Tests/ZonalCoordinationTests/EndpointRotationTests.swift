import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalCoordination

@Suite("Endpoint rotation")
struct EndpointRotationTests {
    let backoff = Backoff(initial: .seconds(1), maximum: .seconds(8), jitter: 0)
    let start = MonotonicInstant.zero

    @Test("the endpoint that answered last goes first, the others follow in turn")
    func prefersLastAnswer() {
        var rotation = EndpointRotation(count: 3, backoff: backoff)
        #expect(rotation.order(at: start) == [0, 1, 2])
        rotation.succeeded(2)
        #expect(rotation.order(at: start) == [2, 0, 1])
    }

    @Test("a failed endpoint is tried last until its pause ends; the pause doubles with failures in a row and resets on an answer")
    func setsFailuresAside() {
        var rotation = EndpointRotation(count: 3, backoff: backoff)
        rotation.failed(0, at: start, random: 0)
        #expect(rotation.order(at: start) == [1, 2, 0])
        #expect(rotation.order(at: start + .milliseconds(999)) == [1, 2, 0])
        #expect(rotation.order(at: start + .seconds(1)) == [0, 1, 2])

        // Failing again at 1 s: set aside for 2 s; a third time at 3 s: for 4 s.
        rotation.failed(0, at: start + .seconds(1), random: 0)
        #expect(rotation.order(at: start + .milliseconds(2_999)) == [1, 2, 0])
        rotation.failed(0, at: start + .seconds(3), random: 0)
        #expect(rotation.order(at: start + .milliseconds(6_999)) == [1, 2, 0])
        #expect(rotation.order(at: start + .seconds(7)) == [0, 1, 2])

        rotation.succeeded(0)
        rotation.failed(0, at: start + .seconds(10), random: 0)
        #expect(rotation.order(at: start + .seconds(11)) == [0, 1, 2], "an answer resets the pause to its initial length")
    }

    @Test("with every endpoint set aside all are still offered, the one whose pause ends first leading")
    func allSetAside() {
        var rotation = EndpointRotation(count: 3, backoff: backoff)
        rotation.failed(1, at: start, random: 0)
        rotation.failed(1, at: start, random: 0)  // 2 s
        rotation.failed(2, at: start, random: 0)  // 1 s
        rotation.failed(0, at: start, random: 0)
        rotation.failed(0, at: start, random: 0)
        rotation.failed(0, at: start, random: 0)  // 4 s
        #expect(rotation.order(at: start) == [2, 1, 0])
    }

    @Test("seeded random outcomes: every order is a permutation of all endpoints, and an endpoint that just answered leads")
    func seededOutcomes() {
        var random = SeededRandom(seed: 7)
        for count in 1...5 {
            var rotation = EndpointRotation(count: count, backoff: backoff)
            var now = start
            for _ in 0..<500 {
                now = now + .milliseconds(Int64(random.next() % 3000))
                let order = rotation.order(at: now)
                #expect(order.sorted() == Array(0..<count))
                let index = order[Int(random.next() % UInt64(count))]
                if random.next() % 2 == 0 {
                    rotation.succeeded(index)
                    #expect(rotation.order(at: now).first == index)
                } else {
                    rotation.failed(index, at: now, random: Double(random.next() % 100) / 100)
                }
            }
        }
    }
}
