import Foundation
import Testing
@testable import ZonalCore

@Suite("Topology files")
struct TopologyLoaderTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("the built-in quickstart is examples/quickstart.yaml and describes two regions with four zones")
    func quickstart() throws {
        let onDisk = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("examples/quickstart.yaml"), encoding: .utf8)
        #expect(onDisk.trimmingCharacters(in: .newlines) == BuiltinTopology.quickstartYAML.trimmingCharacters(in: .newlines))
        let topology = try BuiltinTopology.quickstart()
        #expect(topology.regions.map(\.name) == ["east", "west"])
        #expect(topology.regions[0].zones == ["east-a", "east-b", "east-c"])
        #expect(topology.regions[1].zones == ["west-a"])
        #expect(topology.instances.count == 4)
        #expect(Set(topology.instances.map(\.node.zone)) == ["east-a", "east-b", "east-c", "west-a"])
        let web = try #require(topology.services.first)
        #expect(web.primaryZone == "east-a" && web.secondaryZone == "east-b")
        #expect(web.health.interval == .seconds(1) && web.health.timeout == .milliseconds(800))
    }

    @Test("every example file is valid")
    func examples() throws {
        let directory = Self.repositoryRoot.appendingPathComponent("examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 2)
        for file in files {
            _ = try TopologyLoader.load(path: directory.appendingPathComponent(file).path)
        }
    }

    @Test("defaults fill what a minimal file leaves out")
    func defaults() throws {
        let topology = try TopologyLoader.parse(Self.minimal)
        #expect(topology.coordinator.backend == .embedded)
        #expect(topology.supervisor.controlPort == 7300)
        #expect(topology.supervisor.restart == RestartSettings())
        let service = try #require(topology.services.first)
        #expect(service.health.probe == .http(path: "/health", port: nil, expectedStatus: 200, bodyContains: nil))
        #expect(service.health.rise == 2 && service.health.fall == 2)
    }

    @Test("zone placement puts one instance on every node of the zones")
    func zonePlacement() throws {
        let topology = try TopologyLoader.parse("""
            name: t
            regions: [{ name: r, zones: [a, b] }]
            nodes:
              - { name: a1, zone: a, address: 127.0.0.1 }
              - { name: a2, zone: a, address: 127.0.0.2 }
              - { name: b1, zone: b, address: 127.0.0.3 }
            services:
              - { name: s, kind: process, command: [/bin/sleep, "1000"], zones: [a], port: 9000 }
            """)
        #expect(topology.instances.map(\.id) == ["s@a1", "s@a2"])
        #expect(topology.instances[0].expand("{address}:{port} {zone} {region} {service}") == "127.0.0.1:9000 a r s")
    }

    @Test("durations are read with their unit")
    func durations() {
        #expect(Duration(configText: "500ms") == .milliseconds(500))
        #expect(Duration(configText: "1.5s") == .milliseconds(1500))
        #expect(Duration(configText: "2m") == .seconds(120))
        #expect(Duration(configText: "1h") == .seconds(3600))
        #expect(Duration(configText: "250us") == .microseconds(250))
        #expect(Duration(configText: "5") == nil)
        #expect(Duration(configText: "ms") == nil)
        #expect(Duration(configText: "-1s") == nil)
        #expect(Duration.milliseconds(1500).zonalDescription == "1.5s")
        #expect(Duration.seconds(200).zonalDescription == "3m20s")
    }

    static let minimal = """
        name: minimal
        regions:
          - name: r
            zones: [z]
        nodes:
          - { name: n, zone: z, address: 127.0.0.1 }
        services:
          - name: web
            kind: app
            nodes: [n]
            port: 8080
        """
}
