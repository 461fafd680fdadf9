import ZonalCore

/// Which etcd endpoint a client tries first, and which it leaves alone for a while. Pure: the
/// outcomes and the time go in.
///
/// Calls go to the endpoint that answered last. An endpoint that fails is set aside for a
/// ``Backoff`` delay that grows with its failures in a row, so while one member is down (or
/// silently dropping packets) every call goes straight to a live one instead of first waiting
/// for the dead one's connect timeout; an endpoint set aside is still tried last, so a call
/// fails only when every endpoint has failed it.
public struct EndpointRotation: Sendable, Hashable {
    public let count: Int
    public let backoff: Backoff
    private var preferred = 0
    private var failures: [Int]
    private var setAsideUntil: [MonotonicInstant?]

    public init(count: Int, backoff: Backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(10))) {
        precondition(count > 0, "a rotation needs at least one endpoint")
        self.count = count
        self.backoff = backoff
        failures = Array(repeating: 0, count: count)
        setAsideUntil = Array(repeating: nil, count: count)
    }

    /// The endpoints to try at `now`, in order: those not set aside, from the preferred one
    /// round, then those set aside, the one whose pause ends first leading.
    public func order(at now: MonotonicInstant) -> [Int] {
        let rotation = (0..<count).map { (preferred + $0) % count }
        let available = rotation.filter { index in setAsideUntil[index].map { $0 <= now } ?? true }
        let setAside = rotation.filter { !available.contains($0) }.sorted { setAsideUntil[$0]! < setAsideUntil[$1]! }
        return available + setAside
    }

    /// `index` answered: it is preferred from now on and no longer set aside.
    public mutating func succeeded(_ index: Int) {
        preferred = index
        failures[index] = 0
        setAsideUntil[index] = nil
    }

    /// `index` could not be reached at `now`; `random` (0 up to 1) picks the pause's jitter.
    public mutating func failed(_ index: Int, at now: MonotonicInstant, random: Double = Double.random(in: 0..<1)) {
        failures[index] = min(failures[index] + 1, 64)
        setAsideUntil[index] = now + backoff.delay(afterFailures: failures[index], random: random)
    }
}
