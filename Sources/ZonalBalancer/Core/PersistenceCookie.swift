/// Layer-7 session persistence by an inserted cookie: its value is the server's token and the
/// time it was issued, so a balancer instance that never saw the client still sends it to the
/// same server, and a cookie older than the persistence timeout is ignored.
public struct PersistenceCookie: Sendable, Hashable {
    /// Cookie name. Default `ZONALSRV`.
    public var name: String
    /// How long a client stays with its server after it was last sent there. Default 1000 s.
    public var timeout: Duration

    public init(name: String = "ZONALSRV", timeout: Duration = .seconds(1000)) {
        self.name = name
        self.timeout = timeout
    }

    /// What a cookie said: the server token and when (Unix seconds) it was issued.
    public struct Value: Sendable, Hashable {
        public var token: String
        public var issued: Int
    }

    /// Finds the cookie in `Cookie` header values.
    public func find(in headers: [String]) -> Value? {
        guard let value = Self.value(of: name, in: headers) else { return nil }
        let parts = value.split(separator: ".", maxSplits: 1)
        // A forged or mangled time (negative, beyond 64 bits, not base 36) is no cookie at all.
        guard parts.count == 2, let issued = Int(parts[1], radix: 36), issued >= 0 else { return nil }
        return Value(token: String(parts[0]), issued: issued)
    }

    /// The value of cookie `name` in `Cookie` header values, if the client sent it.
    public static func value(of name: String, in headers: [String]) -> Substring? {
        for header in headers {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                if trimmed.hasPrefix(name + "=") { return trimmed.dropFirst(name.count + 1) }
            }
        }
        return nil
    }

    /// Whether a cookie still holds at `now` (Unix seconds).
    public func isValid(_ value: Value, now: Int) -> Bool {
        guard let age = age(of: value, now: now) else { return false }
        return age >= -60 && age < timeoutSeconds
    }

    /// Whether a still-valid cookie should be issued again so its lifetime slides with use:
    /// once it is older than a quarter of the timeout, so most responses carry no cookie.
    public func needsRefresh(_ value: Value, now: Int) -> Bool {
        guard let age = age(of: value, now: now) else { return true }
        return age > timeoutSeconds / 4
    }

    /// Seconds since the cookie was issued (negative when from the future), or nil when the
    /// difference does not fit: the issue time comes from the client and may be anything.
    private func age(of value: Value, now: Int) -> Int? {
        let (age, overflow) = now.subtractingReportingOverflow(value.issued)
        return overflow ? nil : age
    }

    private var timeoutSeconds: Int {
        Int(clamping: timeout.components.seconds)
    }

    /// The `Set-Cookie` header value naming `token`.
    public func setCookie(token: String, now: Int) -> String {
        "\(name)=\(token).\(String(now, radix: 36)); Max-Age=\(timeout.components.seconds); Path=/; HttpOnly; SameSite=Lax"
    }
}
