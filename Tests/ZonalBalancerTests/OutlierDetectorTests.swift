import Testing
import ZonalCore

@testable import ZonalBalancer

@Suite("Outlier detection")
struct OutlierDetectorTests {
    let t0 = MonotonicInstant.zero

    @Test("consecutive failures eject, for longer each time; a success resets the count")
    func ejection() {
        var detector = OutlierDetector(settings: .init(consecutiveFailures: 3, baseEjection: .seconds(10), maxEjection: .seconds(25)))
        #expect(detector.recordFailure("a", reason: "refused", now: t0) == nil)
        #expect(detector.recordFailure("a", reason: "refused", now: t0) == nil)
        detector.recordSuccess("a", now: t0)
        #expect(detector.recordFailure("a", reason: "refused", now: t0) == nil)
        #expect(detector.recordFailure("a", reason: "refused", now: t0) == nil)
        let first = detector.recordFailure("a", reason: "503", now: t0)
        #expect(first?.until == t0 + .seconds(10))
        #expect(first?.cause == "3 failures in a row, last: 503; ejection 1 for 10s")
        #expect(detector.isEjected("a", now: t0 + .seconds(9)))
        #expect(!detector.isEjected("a", now: t0 + .seconds(10)))
        #expect(!detector.isEjected("b", now: t0))
        for _ in 0..<2 { _ = detector.recordFailure("a", reason: "503", now: t0 + .seconds(11)) }
        #expect(detector.recordFailure("a", reason: "503", now: t0 + .seconds(11))?.until == t0 + .seconds(31))
        for _ in 0..<2 { _ = detector.recordFailure("a", reason: "503", now: t0 + .seconds(40)) }
        // Third ejection: 30 s, capped at 25 s.
        #expect(detector.recordFailure("a", reason: "503", now: t0 + .seconds(40))?.until == t0 + .seconds(65))
    }

    @Test("healthy time after an ejection forgives ejections, once")
    func forgiveness() {
        var detector = OutlierDetector(settings: .init(consecutiveFailures: 1, baseEjection: .seconds(10), maxEjection: .seconds(300)))
        _ = detector.recordFailure("a", reason: "x", now: t0)  // until 10
        _ = detector.recordFailure("a", reason: "x", now: t0 + .seconds(10))  // 2nd: until 30
        detector.recordSuccess("a", now: t0 + .seconds(45))  // 15 s healthy: forgives 1
        detector.recordSuccess("a", now: t0 + .seconds(46))  // the same time is not forgiven again
        #expect(detector.recordFailure("a", reason: "x", now: t0 + .seconds(47))?.until == t0 + .seconds(67))
    }

    @Test("a readmitted server takes traffic at once, but its next ejection is still the longer one")
    func readmission() {
        var detector = OutlierDetector(settings: .init(consecutiveFailures: 1, baseEjection: .seconds(10), maxEjection: .seconds(300)))
        _ = detector.recordFailure("a", reason: "x", now: t0)
        detector.readmit("a", now: t0 + .seconds(2))
        #expect(!detector.isEjected("a", now: t0 + .seconds(2)))
        #expect(detector.recordFailure("a", reason: "x", now: t0 + .seconds(3))?.until == t0 + .seconds(23))
    }
}
