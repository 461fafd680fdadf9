import Testing

@testable import ZonalCore

/// Each kind of bad topology gets its own specific message, pointing at the right line.
@Suite("Bad topology files")
struct TopologyErrorTests {
    /// Parses `yaml`, expecting failure, and returns the problems.
    func problems(_ yaml: String) -> [TopologyProblem] {
        do {
            _ = try TopologyLoader.parse(yaml, file: "test.yaml")
            Issue.record("expected the topology to be rejected")
            return []
        } catch {
            return error.problems
        }
    }

    /// Expects exactly one problem, on `line`, whose message contains every fragment.
    func expectProblem(_ yaml: String, line: Int?, _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        let found = problems(yaml)
        #expect(found.count == 1, "problems: \(found)", sourceLocation: sourceLocation)
        guard let problem = found.first else { return }
        #expect(problem.line == line, "\(problem)", sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(problem.message.contains(fragment), "\(problem) lacks \"\(fragment)\"", sourceLocation: sourceLocation)
        }
    }

    static let header = """
        name: t
        regions:
          - name: east
            zones: [east-a, east-b]
          - name: west
            zones: [west-a]
        nodes:
          - { name: a1, zone: east-a, address: 127.0.0.1 }
          - { name: b1, zone: east-b, address: 127.0.0.2 }
        """

    func withServices(_ services: String) -> String {
        Self.header + "\nservices:\n" + services
    }

    @Test func invalidYAML() {
        expectProblem("name: t\nregions: [a, b\nnodes: []\n", line: 3, "not valid YAML")
    }

    @Test func tabIndentedYAML() {
        let found = problems("name: t\nregions:\n\t- name: x\n")
        #expect(found.count == 1 && found[0].message.contains("not valid YAML") && found[0].line == 3)
    }

    @Test func emptyFile() {
        expectProblem("", line: nil, "the file is empty")
    }

    @Test func rootIsNotAMapping() {
        expectProblem("- a\n- b\n", line: 1, "the topology must be a mapping")
    }

    @Test func duplicateKey() {
        expectProblem("name: t\nname: u\nregions: []\nnodes: []\n", line: 1, "duplicate key `name`")
    }

    @Test func missingRequiredKey() {
        expectProblem("regions: [{ name: r, zones: [z] }]\nnodes: []\n", line: 1, "missing the required key `name`")
    }

    @Test func unknownKeyWithSuggestion() {
        expectProblem(
            withServices("  - { name: web, kind: app, nodes: [a1], prot: 8080, port: 8081 }\n"), line: 11, "unknown key `prot`", "did you mean `port`?")
    }

    @Test func portOfWrongType() {
        expectProblem(
            withServices("  - name: web\n    kind: app\n    nodes: [a1]\n    port: eighty\n"), line: 14,
            "`port` of service web must be an integer from 1 to 65535", "\"eighty\"")
    }

    @Test func portOutOfRange() {
        expectProblem(withServices("  - { name: web, kind: app, nodes: [a1], port: 70000 }\n"), line: 11, "from 1 to 65535")
    }

    @Test func quotedNumberIsNotAnInteger() {
        expectProblem(withServices("  - name: web\n    kind: app\n    nodes: [a1]\n    port: \"8080\"\n"), line: 14, "must be an integer")
    }

    @Test func listGivenAsString() {
        expectProblem(withServices("  - name: web\n    kind: app\n    nodes: a1\n    port: 80\n"), line: 13, "`nodes` of service web must be a list")
    }

    @Test func durationWithoutUnit() {
        expectProblem(
            withServices("  - name: web\n    kind: app\n    nodes: [a1]\n    port: 80\n    health:\n      interval: 5\n"), line: 16,
            "positive duration with a unit")
    }

    @Test func unknownServiceKind() {
        expectProblem(withServices("  - { name: web, kind: webserver, nodes: [a1], port: 80 }\n"), line: 11, "unknown service kind `webserver`")
    }

    @Test func processWithoutCommand() {
        expectProblem(withServices("  - { name: web, kind: process, nodes: [a1], port: 80 }\n"), line: 11, "needs a `command` list")
    }

    @Test func duplicateNodeName() {
        let yaml = Self.header + "\n  - { name: a1, zone: east-b, address: 127.0.0.3 }\nservices: []\n"
        expectProblem(yaml, line: 10, "duplicate node name `a1`", "first declared on line 8")
    }

    @Test func duplicateServiceName() {
        let found = problems(withServices("  - { name: web, kind: app, nodes: [a1], port: 80 }\n  - { name: web, kind: app, nodes: [b1], port: 81 }\n"))
        #expect(found.map(\.line) == [12])
        #expect(found.first?.message.contains("duplicate service name `web`") == true)
    }

    @Test func zoneInTwoRegions() {
        let yaml = "name: t\nregions:\n  - { name: r1, zones: [z] }\n  - { name: r2, zones: [z] }\nnodes: []\n"
        expectProblem(yaml, line: 4, "zone z is declared in both region r1 and region r2")
    }

    @Test func nodeInUnknownZone() {
        let yaml = "name: t\nregions: [{ name: r, zones: [east-a] }]\nnodes:\n  - { name: n, zone: east-x, address: 127.0.0.1 }\n"
        expectProblem(yaml, line: 4, "node n is in zone east-x, which no region declares", "did you mean east-a?")
    }

    @Test func badAddress() {
        let yaml = "name: t\nregions: [{ name: r, zones: [z] }]\nnodes:\n  - name: n\n    zone: z\n    address: 300.1.1.1\n"
        expectProblem(yaml, line: 6, "address \"300.1.1.1\" of node n is not an IPv4 or IPv6 address")
    }

    @Test func serviceOnUnknownNode() {
        expectProblem(
            withServices("  - name: web\n    kind: app\n    port: 80\n    nodes:\n      - a1\n      - c9\n"), line: 16,
            "placed on node c9, which is not declared")
    }

    @Test func servicePlacedInUnknownZone() {
        expectProblem(
            withServices("  - name: web\n    kind: app\n    port: 80\n    zones: [east-a, north-a]\n"), line: 14,
            "service web is placed in zone north-a, which no region declares")
    }

    @Test func servicePlacedNowhere() {
        expectProblem(withServices("  - { name: web, kind: app, port: 80 }\n"), line: 11, "placed nowhere")
    }

    @Test func portClash() {
        let found = problems(withServices("  - { name: web, kind: app, nodes: [a1, b1], port: 80 }\n  - { name: api, kind: app, nodes: [a1], port: 80 }\n"))
        #expect(found.count == 1)
        #expect(found.first?.line == 12)
        #expect(found.first?.message.contains("port clash: api@a1 (port) and web@a1 (port) both listen on 127.0.0.1:80") == true)
    }

    @Test func adminPortClashesWithControlPort() {
        let found = problems(withServices("  - { name: web, kind: app, nodes: [a1], port: 80, admin_port: 7300 }\n"))
        #expect(found.count == 1)
        #expect(found.first?.message.contains("the supervisor control API and web@a1 (admin_port) both listen on 127.0.0.1:7300") == true)
    }

    @Test func samePrimaryAndSecondaryZone() {
        expectProblem(
            withServices("  - name: web\n    kind: app\n    zones: [east-a, east-b]\n    port: 80\n    primary_zone: east-a\n    secondary_zone: east-a\n"),
            line: 16, "names east-a as both primary and secondary zone")
    }

    @Test func primaryZoneWithoutInstance() {
        expectProblem(
            withServices("  - name: web\n    kind: app\n    nodes: [b1]\n    port: 80\n    primary_zone: east-a\n"),
            line: 15, "`primary_zone` of service web is east-a, but the service has no instance there")
    }

    @Test func secondaryWithoutPrimary() {
        expectProblem(
            withServices("  - name: web\n    kind: app\n    zones: [east-a, east-b]\n    port: 80\n    secondary_zone: east-b\n"),
            line: 15, "has a `secondary_zone` but no `primary_zone`")
    }

    @Test func etcdWithoutEndpoints() {
        expectProblem("name: t\ncoordinator:\n  backend: etcd\nregions: [{ name: r, zones: [z] }]\nnodes: []\n", line: 3, "`backend: etcd` needs `endpoints`")
    }

    @Test func unknownCoordinatorBackend() {
        expectProblem(
            "name: t\ncoordinator:\n  backend: zookeeper\nregions: [{ name: r, zones: [z] }]\nnodes: []\n", line: 3, "unknown coordinator backend `zookeeper`")
    }

    @Test func controlAPIOffLoopback() {
        expectProblem(
            "name: t\nsupervisor:\n  control_host: 0.0.0.0\n  control_port: 7300\nregions: [{ name: r, zones: [z] }]\nnodes: []\n", line: 4,
            "must listen on a loopback address")
    }

    @Test("who reads /metrics without the token is one of loopback, anyone or token")
    func metricsAccess() throws {
        let yaml = { (value: String) in "name: t\nsupervisor:\n  api:\n    metrics: \(value)\nregions: [{ name: r, zones: [z] }]\nnodes: []\n" }
        for access in MetricsAccess.allCases {
            #expect(try TopologyLoader.parse(yaml(access.rawValue)).supervisor.api.metrics == access)
        }
        #expect(try TopologyLoader.parse("name: t\nregions: [{ name: r, zones: [z] }]\nnodes: []\n").supervisor.api.metrics == .loopback)
        expectProblem(yaml("everyone"), line: 4, "unknown metrics `everyone`", "loopback, anyone, token")
    }

    @Test("loopback access admits 127.0.0.0/8, ::1 and mapped IPv4 loopback, never an unknown peer")
    func metricsPeers() {
        for peer in ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"] { #expect(MetricsAccess.loopback.admitsWithoutToken(peer: peer), "\(peer)") }
        for peer in ["10.0.0.1", "::ffff:10.0.0.1", "fe80::1", "128.0.0.1", "localhost"] {
            #expect(!MetricsAccess.loopback.admitsWithoutToken(peer: peer), "\(peer)")
        }
        #expect(!MetricsAccess.loopback.admitsWithoutToken(peer: nil))
        #expect(MetricsAccess.anyone.admitsWithoutToken(peer: "10.0.0.1") && MetricsAccess.anyone.admitsWithoutToken(peer: nil))
        #expect(!MetricsAccess.token.admitsWithoutToken(peer: "127.0.0.1"))
    }

    @Test("several problems are all reported at once, in file order")
    func manyProblems() {
        let found = problems(
            withServices(
                """
                  - { name: web, kind: app, nodes: [zz], port: 80 }
                  - { name: api, kind: app, nodes: [a1], port: 0 }
                  - { name: cache, kind: memcached, nodes: [a1], port: 6379 }
                """))
        #expect(found.count == 2, "\(found)")
        #expect(found.map(\.line) == [12, 13])
    }

    @Test("errors render with the file name and line")
    func rendering() {
        let error = TopologyError(file: "x.yaml", problems: [TopologyProblem(line: 3, "bad thing")])
        #expect(error.description == "x.yaml: invalid topology (1 problem):\n  x.yaml: line 3: bad thing")
    }
}
