import NIOCore
import Testing

@testable import ZonalCache

@Suite("RESP codec")
struct RESPTests {
    func requests(_ text: String, limits: RESPLimits = .client()) throws -> [[String]] {
        var buffer = ByteBuffer(string: text)
        var found: [[String]] = []
        while let request = try RESPRequest.next(from: &buffer, limits: limits) {
            found.append(request.arguments.map { String(buffer: $0) })
        }
        return found
    }

    @Test("requests: RESP arrays and inline commands, pipelined, taken only when complete")
    func requestsParse() throws {
        #expect(try requests("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n") == [["GET", "k"], ["PING"]])
        #expect(try requests("set a b\r\n\r\nPING\n") == [["set", "a", "b"], ["PING"]])
        #expect(try requests("*2\r\n$3\r\nGET\r\n$1\r\n") == [], "an incomplete request waits")
        var buffer = ByteBuffer(string: "*1\r\n$4\r\nPI")
        #expect(try RESPRequest.next(from: &buffer, limits: .client()) == nil)
        #expect(buffer.readableBytes == 10, "nothing is consumed until the request is whole")
        buffer.writeString("NG\r\n")
        let request = try #require(try RESPRequest.next(from: &buffer, limits: .client()))
        #expect(request.name == "PING")
        #expect(String(buffer: request.frame) == "*1\r\n$4\r\nPING\r\n", "the frame is forwarded as it came")
        var inline = ByteBuffer(string: "get  k\r\n")
        #expect(String(buffer: try #require(try RESPRequest.next(from: &inline, limits: .client())).frame) == "*2\r\n$3\r\nget\r\n$1\r\nk\r\n")
    }

    @Test(
        "hostile requests get the protocol error Redis would give",
        arguments: [
            ("*999999999\r\n", "invalid multibulk length"), ("*1\r\n$-5\r\n", "invalid bulk length"), ("*1\r\n+PING\r\n", "expected '$', got '+'"),
            ("*2\r\n$3\r\nSET\r\n$99999999999999999999\r\n", "invalid bulk length"), ("*1\r\n$3\r\nabcd\r\n", "does not end with CRLF"),
            ("*x\r\n", "invalid multibulk length"), ("*1\n", "LF and no CR"),
        ])
    func hostileRequests(input: String, message: String) {
        #expect {
            _ = try requests(input)
        } throws: { error in
            (error as? RESPProtocolError)?.message.contains(message) == true
        }
    }

    @Test("before AUTH, requests are held to 10 arguments of 16 KiB")
    func unauthenticatedLimits() {
        #expect(throws: RESPProtocolError.self) { try requests("*11\r\n", limits: .unauthenticated) }
        #expect(throws: RESPProtocolError.self) { try requests("*1\r\n$20000\r\n", limits: .unauthenticated) }
        #expect(throws: RESPProtocolError.self) { try requests(String(repeating: "a", count: 20_000), limits: .unauthenticated) }
    }

    func value(_ text: String, limits: RESPLimits = .server) throws -> RESPValue? {
        var buffer = ByteBuffer(string: text)
        return try RESPValue.next(from: &buffer, limits: limits)
    }

    @Test("RESP2 and RESP3 replies decode; incomplete ones wait")
    func values() throws {
        #expect(try value("+OK\r\n") == .simple("OK"))
        #expect(try value("-ERR no\r\n") == .error("ERR no"))
        #expect(try value(":-12\r\n") == .integer(-12))
        #expect(try value("$-1\r\n") == .null)
        #expect(try value("_\r\n") == .null)
        #expect(try value("*2\r\n$1\r\na\r\n:1\r\n") == .array([.bulk(Array("a".utf8)), .integer(1)]))
        #expect(try value("%1\r\n+k\r\n#t\r\n") == .map([(.simple("k"), .boolean(true))]))
        #expect(try value(">2\r\n+message\r\n,1.5\r\n") == .push([.simple("message"), .double("1.5")]))
        #expect(try value("|1\r\n+ttl\r\n:3\r\n+OK\r\n") == .simple("OK"), "an attribute describes the value after it")
        #expect(try value("=7\r\ntxt:abc\r\n") == .bulk(Array("abc".utf8)))
        #expect(try value("*2\r\n$1\r\na\r\n") == nil)
        #expect(try value("$5\r\nab") == nil)
    }

    @Test("nesting stops at the depth limit without recursion; bad types and lengths are errors")
    func hostileValues() throws {
        let limits = RESPLimits(maxBulkLength: 100, maxAggregateLength: 100, maxDepth: 8, maxLineLength: 64)
        #expect(throws: RESPProtocolError.self) { try value(String(repeating: "*1\r\n", count: 9) + ":1\r\n", limits: limits) }
        #expect(try value(String(repeating: "*1\r\n", count: 8) + ":1\r\n", limits: limits) != nil)
        #expect(throws: RESPProtocolError.self) { try value(String(repeating: "*1\r\n", count: 100_000) + ":1\r\n", limits: .server) }
        #expect(throws: RESPProtocolError.self) { try value("$101\r\n", limits: limits) }
        #expect(throws: RESPProtocolError.self) { try value("*101\r\n", limits: limits) }
        #expect(throws: RESPProtocolError.self) { try value("?\r\n", limits: limits) }
        #expect(throws: RESPProtocolError.self) { try value("#x\r\n", limits: limits) }
        #expect(throws: RESPProtocolError.self) { try value("+" + String(repeating: "a", count: 100), limits: limits) }
    }
}

@Suite("INFO replication")
struct ReplicationInfoTests {
    @Test("a replica's and a master's INFO read, and an old master's divergence from its successor")
    func parse() throws {
        let replica = try #require(
            ReplicationInfo(
                "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.2\r\nmaster_port:6379\r\nmaster_link_status:up\r\nmaster_last_io_seconds_ago:1\r\nmaster_replid:abc\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:120\r\nsecond_repl_offset:-1\r\n"
            ))
        #expect(replica.role == .replica)
        #expect(replica.linkUp)
        #expect(replica.offset == 120)
        #expect(replica.previousReplicationID == nil)
        #expect(replica.secondOffset == nil)
        let successor = try #require(
            ReplicationInfo(
                "role:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.3,port=6379,state=online,offset=140,lag=0\r\nmaster_replid:def\r\nmaster_replid2:abc\r\nmaster_repl_offset:150\r\nsecond_repl_offset:101\r\n"
            ))
        #expect(successor.replicas == [.init(host: "127.0.0.3", port: 6379, offset: 140, lagSeconds: 0)])
        let oldMaster = try #require(ReplicationInfo("role:master\r\nmaster_replid:abc\r\nmaster_repl_offset:130\r\n"))
        #expect(oldMaster.divergence(from: successor) == 30, "what the old master wrote past offset 100 is lost")
        #expect(ReplicationInfo("role:master\r\nmaster_replid:zzz\r\nmaster_repl_offset:130\r\n")!.divergence(from: successor) == nil)
        #expect(ReplicationInfo("no role here") == nil)
    }
}
