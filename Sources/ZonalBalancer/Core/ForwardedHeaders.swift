import NIOHTTP1

/// How a request head is rewritten on its way to a server and a response head on its way back:
/// hop-by-hop headers (RFC 9110 §7.6.1) stay on their hop, the server learns who the client is
/// (`X-Forwarded-For`, `X-Forwarded-Proto`, `Forwarded`), and keep-alive is negotiated per hop.
public enum ForwardedHeaders {
    /// Headers that describe one connection, never forwarded.
    static let hopByHop: [String] = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "proxy-authenticate", "proxy-authorization",
    ]

    /// The protocol an HTTP/1.1 request asks to switch to (`Upgrade: websocket` with
    /// `Connection: upgrade`, RFC 9110 §7.8), or nil for an ordinary request. Only this hop-by-hop
    /// pair is forwarded, since the switch needs the server's agreement.
    public static func requestedUpgrade(_ head: HTTPRequestHead) -> String? {
        guard head.version == .http1_1, let upgrade = head.headers.first(name: "upgrade"), !upgrade.isEmpty,
            head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" })
        else { return nil }
        return upgrade
    }

    /// The head sent to the server: HTTP/1.1 on a kept-alive connection, whatever the client
    /// spoke; with `upgrade`, the request to switch to that protocol.
    public static func request(_ head: HTTPRequestHead, clientAddress: String, scheme: String, upgrade: String? = nil) -> HTTPRequestHead {
        var forwarded = head
        forwarded.version = .http1_1
        forwarded.headers = withoutHopByHop(head.headers)
        forwarded.headers.remove(name: "expect")
        if let upgrade { addUpgrade(upgrade, to: &forwarded.headers) }
        if let chain = head.headers.first(name: "x-forwarded-for") {
            forwarded.headers.replaceOrAdd(name: "X-Forwarded-For", value: "\(chain), \(clientAddress)")
        } else {
            forwarded.headers.add(name: "X-Forwarded-For", value: clientAddress)
        }
        forwarded.headers.replaceOrAdd(name: "X-Forwarded-Proto", value: scheme)
        var element = "for=\(forwardedNode(clientAddress));proto=\(scheme)"
        if let host = head.headers.first(name: "host"), host.utf8.allSatisfy(isHostByte) {
            element += ";host=\"\(host)\""
        }
        if let earlier = head.headers.first(name: "forwarded") {
            forwarded.headers.replaceOrAdd(name: "Forwarded", value: "\(earlier), \(element)")
        } else {
            forwarded.headers.add(name: "Forwarded", value: element)
        }
        return forwarded
    }

    /// The head sent to the client: in the client's HTTP version, saying whether the client's
    /// connection stays open.
    public static func response(_ head: HTTPResponseHead, version: HTTPVersion, keepAlive: Bool) -> HTTPResponseHead {
        var answer = head
        answer.version = version
        answer.headers = withoutHopByHop(head.headers)
        if !keepAlive {
            answer.headers.add(name: "Connection", value: "close")
        } else if version == .http1_0 {
            answer.headers.add(name: "Connection", value: "keep-alive")
        }
        return answer
    }

    /// The `101 Switching Protocols` sent to the client: the server's head with the protocol it
    /// switched to, after which the connection carries that protocol.
    public static func switchingProtocols(_ head: HTTPResponseHead, version: HTTPVersion) -> HTTPResponseHead {
        var answer = head
        answer.version = version
        answer.headers = withoutHopByHop(head.headers)
        if let upgrade = head.headers.first(name: "upgrade") { addUpgrade(upgrade, to: &answer.headers) }
        return answer
    }

    private static func addUpgrade(_ upgrade: String, to headers: inout HTTPHeaders) {
        headers.add(name: "Connection", value: "Upgrade")
        headers.add(name: "Upgrade", value: upgrade)
    }

    /// Whether the client's connection may carry another request after this response. An
    /// HTTP/1.0 client cannot be sent a body of unknown length on a connection that stays open.
    public static func clientKeepsAlive(request: HTTPRequestHead, response: HTTPResponseHead) -> Bool {
        guard request.isKeepAlive else { return false }
        if request.version == .http1_0 && !response.headers.contains(name: "content-length") && request.method != .HEAD {
            return response.status == .noContent || response.status == .notModified
        }
        return true
    }

    /// Whether a server connection may be reused after this exchange.
    public static func serverKeepsAlive(_ response: HTTPResponseHead) -> Bool {
        response.isKeepAlive && response.status != .switchingProtocols
    }

    /// A retry may resend a request only if sending it twice means the same as once.
    public static func isIdempotent(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .PUT, .DELETE, .OPTIONS, .TRACE: true
        default: false
        }
    }

    /// Letters, digits and `.-:[]`: a host that can go into `Forwarded` without escaping.
    private static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"):
            true
        default:
            false
        }
    }

    private static func withoutHopByHop(_ headers: HTTPHeaders) -> HTTPHeaders {
        var kept = headers
        for name in headers[canonicalForm: "connection"] { kept.remove(name: String(name)) }
        for name in hopByHop { kept.remove(name: name) }
        return kept
    }

    /// RFC 7239 node syntax: IPv6 addresses are bracketed and quoted.
    private static func forwardedNode(_ address: String) -> String {
        address.contains(":") ? "\"[\(address)]\"" : address
    }
}
