/// What the proxy must know of a command beyond forwarding it: whether it ties the client to
/// one server connection (state a failover cannot carry over) or changes the pub/sub mode, in
/// which replies no longer pair with commands.
public enum CommandTraits {
    /// Commands whose effect lives on the server connection: a transaction, a watch, a
    /// blocking wait, client-side caching, a replica stream. After a failover such a client
    /// is disconnected rather than silently moved.
    static let sessionBound: Set<String> = [
        "MULTI", "WATCH", "BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BZPOPMIN", "BZPOPMAX", "BLMPOP", "BZMPOP", "XREAD", "XREADGROUP", "WAIT",
        "WAITAOF", "CLIENT", "MONITOR", "SYNC", "PSYNC", "RESET",
    ]

    /// Commands that enter pub/sub mode: replies arrive without a command each.
    static let subscribing: Set<String> = ["SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"]

    /// Whether `name` (upper-cased) ties the client to its server connection.
    public static func bindsSession(_ name: String) -> Bool {
        sessionBound.contains(name) || subscribing.contains(name)
    }

    /// Whether after `name` replies stop pairing with commands (pub/sub, `MONITOR`).
    public static func relaysReplies(_ name: String) -> Bool {
        subscribing.contains(name) || name == "MONITOR"
    }
}
