import Testing

@testable import ZonalCore

/// The `object-store` and `s3` kinds: their settings read with defaults, and their mistakes
/// named on their lines.
@Suite("Objects topology")
struct ObjectsTopologyTests {
    let errors = TopologyErrorTests()

    @Test("an object store and its S3 front end read with every default")
    func defaults() throws {
        let topology = try TopologyLoader.parse(
            errors.withServices(
                """
                  - { name: store, kind: object-store, zones: [east-a, east-b], port: 9100, admin_port: 9101, objects: { replicas: 2, write_quorum: 1 } }
                  - { name: s3, kind: s3, zones: [east-a], port: 9200, s3: { store: store, domains: [s3.test] } }
                """), file: "t.yaml")
        guard case .objectStore(let spec) = topology.services[0].kind, case .s3(let gateway) = topology.services[1].kind else {
            Issue.record("wrong kinds: \(topology.services.map(\.kind.name))")
            return
        }
        #expect(spec.replicas == 2 && spec.writeQuorum == 1 && spec.dataDirectory == nil)
        #expect(spec.scrubRate == 16 << 20 && spec.scrubInterval == .seconds(86_400))
        #expect(gateway.store == "store" && gateway.domains == ["s3.test"] && gateway.region == nil)
        #expect(gateway.maxObjectSize == 5 << 30 && gateway.nodeTimeout == .seconds(10) && gateway.uploadExpiry == .seconds(604_800))
    }

    @Test("replica rules that cannot hold, and front ends of no store, are named on their lines")
    func mistakes() {
        errors.expectProblem(
            errors.withServices("  - name: o\n    kind: object-store\n    zones: [east-a, east-b]\n    port: 9100\n    admin_port: 9101\n"),
            line: 11, "3 replicas", "only 2 nodes")
        errors.expectProblem(
            errors.withServices(
                "  - name: o\n    kind: object-store\n    zones: [east-a, east-b]\n    port: 9100\n    admin_port: 9101\n    objects: { replicas: 2, write_quorum: 3 }\n"
            ),
            line: 16, "write_quorum", "no write could succeed")
        errors.expectProblem(
            errors.withServices("  - name: o\n    kind: object-store\n    nodes: [a1]\n    port: 9100\n    admin_port: 9101\n    objects: { replicas: 9 }\n"),
            line: 16, "replicas", "from 1 to 7")
        errors.expectProblem(
            errors.withServices("  - name: o\n    kind: object-store\n    nodes: [a1]\n    port: 9100\n    objects: { replicas: 1, scrub_rate: -5 }\n"),
            line: 15, "scrub_rate", "from 0 to")
        errors.expectProblem(
            errors.withServices("  - name: o\n    kind: object-store\n    nodes: [a1]\n    port: 9100\n    objects: { replicas: 1, scrub_interval: 0s }\n"),
            line: 15, "scrub_interval", "positive duration")
        errors.expectProblem(
            errors.withServices("  - { name: s, kind: s3, zones: [east-a], port: 9200, s3: { store: nowhere } }\n"), line: 11, "nowhere", "not declared")
        errors.expectProblem(
            errors.withServices(
                "  - { name: w, kind: app, zones: [east-a], port: 8080 }\n  - { name: s, kind: s3, zones: [east-a], port: 9200, s3: { store: w } }\n"),
            line: 12, "kind `app`", "object-store")
        errors.expectProblem(errors.withServices("  - { name: s, kind: s3, zones: [east-a], port: 9200 }\n"), line: nil, "needs an `s3` section")
    }

    @Test("replication rules of the topology: read with their defaults, and a destination that is no other store named on its line")
    func replicationRules() throws {
        let store =
            "  - name: o\n    kind: object-store\n    nodes: [a1]\n    port: 9100\n    admin_port: 9101\n    objects:\n      replicas: 1\n      write_quorum: 1\n      replication:\n"
        let other = "  - { name: far, kind: object-store, nodes: [a1], port: 9300, admin_port: 9301, objects: { replicas: 1, write_quorum: 1 } }\n"
        let topology = try TopologyLoader.parse(
            errors.withServices(
                store
                    + "        - { name: r, bucket: b, to_store: far }\n        - { name: s, bucket: c, prefix: p/, deletes: true, to_store: far, to_bucket: d }\n"
                    + other),
            file: "t.yaml")
        guard case .objectStore(let spec) = topology.services[0].kind else {
            Issue.record("not a store")
            return
        }
        #expect(
            spec.replication == [
                ObjectReplicationSpec(name: "r", bucket: "b", toStore: "far"),
                ObjectReplicationSpec(name: "s", bucket: "c", prefix: "p/", deletes: true, toStore: "far", toBucket: "d"),
            ])
        errors.expectProblem(errors.withServices(store + "        - { name: r, bucket: b, to_store: o }\n"), line: 20, "its own store")
        errors.expectProblem(errors.withServices(store + "        - { name: r, bucket: b, to_store: fat }\n" + other), line: 20, "not an object-store", "far")
        errors.expectProblem(errors.withServices(store + "        - { name: r, bucket: b }\n" + other), line: 20, "to_store")
        errors.expectProblem(errors.withServices(store + "        - { name: \"a b\", bucket: b, to_store: far }\n" + other), line: 20, "rule name")
        errors.expectProblem(
            errors.withServices(store + "        - { name: r, bucket: b, to_store: far }\n        - { name: r, bucket: c, to_store: far }\n" + other), line: 20,
            "two replication rules")
    }

    @Test("a backup policy's store: repository names a store that a front end serves, and a valid bucket, or its line says which is wrong")
    func storeRepositories() throws {
        let store =
            "  - { name: o, kind: object-store, nodes: [a1], port: 9100, admin_port: 9101, objects: { replicas: 1, write_quorum: 1 } }\n"
        let frontEnd = "  - { name: s, kind: s3, nodes: [a1], port: 9200, s3: { store: o } }\n"
        func policy(_ repository: String) -> String {
            "backups:\n  - name: p\n    paths: [/srv]\n    password_file: /pw\n    interval: 1h\n    repository: \(repository)\n"
        }
        let topology = try TopologyLoader.parse(errors.withServices(store + frontEnd) + policy("store:o/files/p"), file: "t.yaml")
        let reference = try #require(try ObjectStoreReference(parsing: topology.backups[0].repository))
        #expect(reference == ObjectStoreReference(store: "o", bucket: "files", prefix: "p"))
        #expect(reference.frontEnd(in: topology, zone: nil)?.endpoint == "http://127.0.0.1:9200")
        #expect(reference.location(at: "http://h:1") == "s3:http://h:1/files/p")
        errors.expectProblem(errors.withServices(store + frontEnd) + policy("store:q/files"), line: 18, "not an object-store service", "o")
        errors.expectProblem(errors.withServices(store) + policy("store:o/files"), line: 17, "no `s3` service serves")
        errors.expectProblem(errors.withServices(store + frontEnd) + policy("store:o/Files"), line: 18, "not a valid bucket name")
        errors.expectProblem(errors.withServices(store + frontEnd) + policy("store:o"), line: 18, "needs a store and a bucket")
    }
}
