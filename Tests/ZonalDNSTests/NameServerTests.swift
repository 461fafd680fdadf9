import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import ZonalCore
import ZonalObservability

@testable import ZonalDNS

/// The name server shell without sockets: plans from a topology, health verdicts making new
/// zone versions, reloads, and the admin API behind the token.
@Suite("Name server")
struct NameServerTests {
    static func topology(directory: String, zoneFile: String) throws -> Topology {
        try zoneFile.write(toFile: "\(directory)/z.zone", atomically: true, encoding: .utf8)
        return try TopologyLoader.parse(
            """
            name: t
            regions: [{ name: east, zones: [a] }, { name: west, zones: [w] }]
            nodes: [{ name: n1, zone: a, address: 127.0.0.1 }, { name: n2, zone: w, address: 127.0.0.2 }]
            services:
              - { name: web, kind: app, zones: [a, w], port: 8080 }
              - name: dns
                kind: dns
                nodes: [n1]
                port: 5300
                admin_port: 9053
                dns:
                  zones: [{ name: example.test, file: z.zone }, { name: made.test }]
                  records:
                    - name: www.example.test
                      pools: [{ name: east, service: web, region: east }, { name: west, service: web, region: west }]
            """)
    }

    static func server(zoneFile: String) throws -> (NameServer, String) {
        let directory = NSTemporaryDirectory() + "zonal-ns-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let plan: @Sendable () throws -> DNSPlan = {
            try DNSPlan(
                topology: try topology(directory: directory, zoneFile: (try? String(contentsOfFile: "\(directory)/z.zone", encoding: .utf8)) ?? zoneFile),
                service: "dns", node: "n1", directory: directory)
        }
        _ = try topology(directory: directory, zoneFile: zoneFile)
        return (try NameServer(plan: try plan(), logger: Logger(label: "test"), reloadPlan: plan), directory)
    }

    static let zone = "$TTL 1h\n@ SOA ns hm 7 1 1 1 60\n  NS ns\nns A 192.0.2.1\n"

    @Test("a health change makes a new zone version with the next serial and a journal entry; an unchanged verdict does not")
    func healthMakesVersions() throws {
        let (server, directory) = try Self.server(zoneFile: Self.zone)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let origin = try DNSName(parsing: "example.test.", origin: nil)
        let name = try DNSName(parsing: "www.example.test.", origin: nil)
        let start = try #require(server.snapshot.authority.zone(named: origin)?.soa.serial)
        #expect(start > 7, "a zone with health-checked names starts at the start time")
        let generation = server.generation
        server.setHealth(.init(name: name, pool: 0, member: 0), healthy: false, cause: "refused")
        let zone = try #require(server.snapshot.authority.zone(named: origin))
        #expect(zone.soa.serial == start + 1 && server.generation > generation)
        #expect(zone.records.contains { $0.name == name && $0.data == .a(.init(127, 0, 0, 2)) })
        #expect(server.snapshot.journals[origin]?.differences.count == 1)
        server.setHealth(.init(name: name, pool: 0, member: 0), healthy: false, cause: "refused")
        #expect(server.snapshot.authority.zone(named: origin)?.soa.serial == start + 1)
        let status = server.status()
        #expect(status.records.first?.answer == "pool west: 127.0.0.2" && status.events.count == 1)
        #expect(status.zones.map(\.name) == ["example.test.", "made.test."])
        let made = try #require(server.snapshot.authority.zone(named: try DNSName(parsing: "made.test.", origin: nil)))
        #expect(made.records.contains { $0.type == .ns } && made.records.contains { $0.data == .a(.init(127, 0, 0, 1)) }, "a generated zone names its servers")
    }

    @Test("the admin API wants the token for status and reload; a reload with a broken zone file changes nothing")
    func adminAPI() async throws {
        let (server, directory) = try Self.server(zoneFile: Self.zone)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let app = Application(router: DNSAdminAPI(server: server, tokens: AdminTokenSource(fixed: try AdminToken(secret: "s3cret"))).router())
        let token: HTTPFields = [.authorization: "Bearer s3cret"]
        try await app.test(.router) { client in
            try await client.execute(uri: "/status", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/reload", method: .post) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/status", method: .get, headers: token) { response in
                #expect(response.status == .ok && String(buffer: response.body).contains("www.example.test."))
            }
            try (Self.zone + "new A 192.0.2.9\n").replacingOccurrences(of: " 7 ", with: " 8 ").write(
                toFile: "\(directory)/z.zone", atomically: true, encoding: .utf8)
            try await client.execute(uri: "/reload", method: .post, headers: token) { response in
                #expect(response.status == .ok && String(buffer: response.body).contains("example.test."))
            }
            #expect(
                server.snapshot.authority.zone(named: try DNSName(parsing: "example.test.", origin: nil))?.records.contains {
                    $0.name.description == "new.example.test."
                } == true)
            try (Self.zone + "bad A 1.2.3\n").write(toFile: "\(directory)/z.zone", atomically: true, encoding: .utf8)
            try await client.execute(uri: "/reload", method: .post, headers: token) { response in
                #expect(response.status == .unprocessableContent && String(buffer: response.body).contains("z.zone:5"))
            }
            #expect(
                server.snapshot.authority.zone(named: try DNSName(parsing: "example.test.", origin: nil))?.records.contains {
                    $0.name.description == "new.example.test."
                } == true)
        }
    }
}
