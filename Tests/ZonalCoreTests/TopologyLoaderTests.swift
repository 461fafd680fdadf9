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
        #expect(
            topology.instances.count == 24,
            "four app servers, four balancer instances, two PostgreSQL nodes, two Redis nodes, two RESP proxies, two DNS servers, four storage nodes, four S3 front ends"
        )
        guard case .objectStore(let objects) = topology.services.first(where: { $0.name == "objects" })?.kind else {
            Issue.record("no object store in the quickstart")
            return
        }
        #expect(objects.replication.map(\.toStore) == ["objects-west"], "east's store replicates to west")
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
        #expect(topology.supervisor.restart == RestartSpec())
        let service = try #require(topology.services.first)
        #expect(service.health.probe == .http(path: "/health", port: nil, expectedStatus: 200, bodyContains: nil))
        #expect(service.health.rise == 2 && service.health.fall == 2)
    }

    @Test("zone placement puts one instance on every node of the zones")
    func zonePlacement() throws {
        let topology = try TopologyLoader.parse(
            """
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

@Suite("Local etcd cluster")
struct LocalEtcdClusterTests {
    @Test("local_cluster adds one etcd member per zone, at most three, and points the endpoints at them")
    func expansion() throws {
        let topology = try TopologyLoader.parse(
            """
            name: t
            coordinator: { backend: etcd, local_cluster: true }
            regions:
              - { name: east, zones: [a, b, c] }
              - { name: west, zones: [d] }
            nodes:
              - { name: a1, zone: a, address: 127.0.1.1 }
              - { name: a2, zone: a, address: 127.0.1.2 }
              - { name: b1, zone: b, address: 127.0.2.1 }
              - { name: c1, zone: c, address: 127.0.3.1 }
              - { name: d1, zone: d, address: 127.0.4.1 }
            services: []
            """)
        let etcd = try #require(topology.services.first { $0.name == "etcd" })
        #expect(etcd.nodes == ["a1", "b1", "c1"])
        #expect(topology.coordinator.endpoints == ["http://127.0.1.1:2379", "http://127.0.2.1:2379", "http://127.0.3.1:2379"])
        guard case .process(let command) = etcd.kind else {
            Issue.record("etcd is not a process service")
            return
        }
        #expect(command.contains("a1=http://127.0.1.1:2380,b1=http://127.0.2.1:2380,c1=http://127.0.3.1:2380"))
        let instance = try #require(topology.instances.first)
        #expect(instance.expand("{state_dir}/etcd/{node}", stateDirectory: "/var/z") == "/var/z/etcd/a1")
    }

    @Test("a service on an etcd member's port is a clash")
    func clash() {
        #expect(throws: TopologyError.self) {
            try TopologyLoader.parse(
                """
                name: t
                coordinator: { backend: etcd, local_cluster: true }
                regions: [{ name: r, zones: [a] }]
                nodes: [{ name: a1, zone: a, address: 127.0.1.1 }]
                services: [{ name: web, kind: app, nodes: [a1], port: 2379 }]
                """)
        }
    }
}
