/// An atomic "if these comparisons hold, do this, else do that" — etcd's `Txn`, as far as
/// compare-and-swap and elections need.
public struct Transaction: Hashable, Sendable, Codable {
    public var compares: [Compare]
    public var success: [Operation]
    public var failure: [Operation]

    public init(compares: [Compare], success: [Operation], failure: [Operation] = []) {
        self.compares = compares
        self.success = success
        self.failure = failure
    }

    public struct Compare: Hashable, Sendable, Codable {
        public enum Target: Hashable, Sendable, Codable {
            /// The key's modification revision (0 when the key does not exist).
            case modRevision(Int64)
            /// The key's creation revision (0 when the key does not exist).
            case createRevision(Int64)
            /// The number of puts since creation (0 when the key does not exist).
            case version(Int64)
            case value([UInt8])
        }

        public enum Relation: String, Hashable, Sendable, Codable {
            case equal = "EQUAL"
            case notEqual = "NOT_EQUAL"
            case less = "LESS"
            case greater = "GREATER"
        }

        public var key: String
        public var relation: Relation
        public var target: Target

        public init(key: String, _ relation: Relation, _ target: Target) {
            self.key = key
            self.relation = relation
            self.target = target
        }

        /// The key does not exist.
        public static func absent(_ key: String) -> Compare {
            Compare(key: key, .equal, .createRevision(0))
        }

        /// The key was last modified at `revision` (0: does not exist) — the compare of compare-and-swap.
        public static func unchanged(_ key: String, since revision: Int64) -> Compare {
            Compare(key: key, .equal, .modRevision(revision))
        }
    }

    public enum Operation: Hashable, Sendable, Codable {
        case put(key: String, value: [UInt8], lease: LeaseID?)
        case delete(key: String)
        case get(key: String)

        /// The key a put writes.
        public var writtenKey: String? {
            if case .put(let key, _, _) = self { key } else { nil }
        }

        /// The key a delete removes.
        public var deletedKey: String? {
            if case .delete(let key) = self { key } else { nil }
        }
    }
}

/// What a transaction did.
public struct TransactionResult: Hashable, Sendable {
    /// Whether the comparisons held (and the success branch ran).
    public var succeeded: Bool
    /// The store's revision after the transaction.
    public var revision: Int64
    /// The answers of the branch's `get` operations, in order (nil for a missing key).
    public var gets: [KeyValue?]

    public init(succeeded: Bool, revision: Int64, gets: [KeyValue?]) {
        self.succeeded = succeeded
        self.revision = revision
        self.gets = gets
    }
}
