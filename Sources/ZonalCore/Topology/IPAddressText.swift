#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Checks on textual IP addresses, without resolving names: a topology names addresses, not hosts.
public enum IPAddressText {
    public static func isValid(_ text: String) -> Bool {
        isIPv4(text) || isIPv6(text)
    }

    /// True for 127.0.0.0/8 and ::1 (also 127.0.0.0/8 mapped into IPv6, as a dual-stack socket
    /// reports its IPv4 peers): the only addresses the control API may listen on.
    public static func isLoopback(_ text: String) -> Bool {
        if isIPv4(text) { return text.split(separator: ".").first == "127" }
        guard isIPv6(text) else { return false }
        let mappedPrefix = "::ffff:"
        if text.lowercased().hasPrefix(mappedPrefix) { return isLoopback(String(text.dropFirst(mappedPrefix.count))) }
        return text == "::1" || text == "0:0:0:0:0:0:0:1"
    }

    /// Whether two listeners on these addresses would collide on one port: the same address,
    /// or a wildcard (0.0.0.0, ::) against anything.
    public static func overlap(_ a: String, _ b: String) -> Bool {
        a == b || isWildcard(a) || isWildcard(b)
    }

    /// `host:port` as it goes in a URL or an address: an IPv6 host in brackets (`[::1]:80`).
    public static func hostPort(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Splits `host:port` (`[::1]:53` for IPv6) into an address and a port from 1 to 65535.
    public static func parseHostPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard isValid(host), host.contains(":") == text.hasPrefix("[") else { return nil }
        return (host, port)
    }

    /// The address as 4 (IPv4) or 16 (IPv6) bytes; nil when the text is neither.
    public static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// 4 or 16 address bytes as text (IPv6 in the shortest form of RFC 5952).
    public static func text(_ bytes: [UInt8]) -> String {
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard bytes.count == 4 || bytes.count == 16, inet_ntop(family, bytes, &text, socklen_t(text.count)) != nil else { return "?" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func isWildcard(_ text: String) -> Bool {
        text == "0.0.0.0" || text == "::"
    }

    private static func isIPv4(_ text: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    private static func isIPv6(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }
}
