import Foundation

/// What a storage node's scrubber has found and done, for `zonal objects scrub status`, the
/// node's admin API (`GET /v1/scrub`) and its metrics.
public struct ScrubStatus: Sendable, Hashable, Codable {
    /// What a scrubber counted, in one pass or since the node started.
    public struct Findings: Sendable, Hashable, Codable {
        /// Versions looked at: their bytes verified (when they have any) and their replicas on
        /// the other nodes compared.
        public var versions = 0
        public var bytes: Int64 = 0
        /// Replicas of this node found damaged or with their file missing.
        public var corrupt = 0
        /// Replicas missing or behind on another node, or on this one.
        public var missing = 0
        /// Replicas copied back into place, here or on another node.
        public var healed = 0
        /// Repairs that found no good copy or could not write it.
        public var failed = 0
        /// Questions to other nodes that got no answer (those replicas are compared next pass).
        public var unreachable = 0
        /// Parts of multipart uploads that no other node has: left alone, neither spread nor
        /// removed (an aborted upload's part on a node that missed the abort, most likely).
        public var orphanParts = 0

        public init() {}
    }

    /// One pass over every replica of the node.
    public struct Pass: Sendable, Hashable, Codable {
        public var started: Date
        public var finished: Date?
        public var findings = Findings()
        public var lastError: String?

        public init(started: Date) {
            self.started = started
        }
    }

    public var node: String
    /// Bytes per second; 0 when the scrubber is off.
    public var rate: Int
    /// Seconds from the start of one pass to the start of the next.
    public var intervalSeconds: Int64
    public var current: Pass?
    public var last: Pass?
    /// Passes finished since the node started, and what all passes found.
    public var passes = 0
    public var total = Findings()

    public init(node: String, rate: Int, interval: Duration) {
        self.node = node
        self.rate = rate
        self.intervalSeconds = interval.components.seconds
    }
}
