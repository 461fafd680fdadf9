import AsyncHTTPClient
import Foundation
import Testing
import ZonalCore
import ZonalTesting

/// A real object store for tests: an embedded coordinator (`zonal coordinator serve`), one
/// `zonal objects node` per zone (each on its own loopback address) and one `zonal objects s3`
/// front end per zone. Clients are the ones people use: boto3 and the AWS CLI.
final class ObjectStoreCluster: @unchecked Sendable {
    let directory: TemporaryDirectory
    let file: String
    /// Node name → address; node `n<i>` is in zone `z<i>`, with a storage node and a front end.
    /// With `west`, node `w1` in region west holds a second store, `west-objects` (one replica),
    /// and its front end `west-s3`; the topology replicates east's bucket `mirror` there.
    let nodes: [String: String]
    let coordinator: ProcessFixture
    private(set) var storageNodes: [String: ProcessFixture] = [:]
    private(set) var gateways: [String: ProcessFixture] = [:]
    let token = AdminToken.generate()
    let tokenFile: String

    static let storagePort = 9100
    static let s3Port = 9200

    /// `prepare` is given each storage node's data directory before the node starts (a test
    /// mounts a small file system there).
    init(
        zones: Int = 3, nodeTimeout: String = "3s", scrubInterval: String = "24h", uploadExpiry: String = "168h", west: Bool = false,
        prepare: (String, String) async throws -> Void = { _, _ in }
    ) async throws {
        directory = try TemporaryDirectory(prefix: "zonal-objects")
        let coordinatorHost = LoopbackAddress.random()
        let names = (1...zones).map { "n\($0)" }
        let nodes = Dictionary(uniqueKeysWithValues: (names + (west ? ["w1"] : [])).map { ($0, LoopbackAddress.random()) })
        self.nodes = nodes
        let declaredRule = west ? ", replication: [{ name: declared-mirror, bucket: mirror, to_store: west-objects, deletes: true }]" : ""
        let westRegion = west ? "\n  - { name: west, zones: [w1] }" : ""
        let westNode = west ? "\n  - { name: w1, zone: w1, address: \(nodes["w1"]!) }" : ""
        let westServices =
            west
            ? """

              - name: west-objects
                kind: object-store
                nodes: [w1]
                port: \(Self.storagePort)
                admin_port: 9101
                objects: { data_directory: "\(directory.file("data"))/{node}", replicas: 1, write_quorum: 1 }
              - name: west-s3
                kind: s3
                nodes: [w1]
                port: \(Self.s3Port)
                admin_port: 9201
                s3: { store: west-objects, node_timeout: \(nodeTimeout) }
            """ : ""
        let yaml = """
            name: objectstest
            coordinator: { backend: embedded, host: \(coordinatorHost), port: 7379 }
            regions:
              - { name: east, zones: [\(names.map { "z\($0.dropFirst())" }.joined(separator: ", "))] }\(westRegion)
            nodes:
            \(names.map { "  - { name: \($0), zone: z\($0.dropFirst()), address: \(nodes[$0]!) }" }.joined(separator: "\n"))\(westNode)
            services:
              - name: objects
                kind: object-store
                nodes: [\(names.joined(separator: ", "))]
                port: \(Self.storagePort)
                admin_port: 9101
                objects: { data_directory: "\(directory.file("data"))/{node}", scrub_interval: \(scrubInterval)\(declaredRule) }
              - name: s3
                kind: s3
                nodes: [\(names.joined(separator: ", "))]
                port: \(Self.s3Port)
                admin_port: 9201
                s3: { store: objects, node_timeout: \(nodeTimeout), upload_expiry: \(uploadExpiry) }\(westServices)
            """
        file = try directory.write("topology.yaml", yaml)
        tokenFile = try directory.writePrivate("admin-token", token.secret)
        coordinator = try ProcessFixture.coordinator(host: coordinatorHost, directory: directory, tokenFile: tokenFile)
        let all = names + (west ? ["w1"] : [])
        for name in all {
            try FileManager.default.createDirectory(atPath: dataDirectory(name), withIntermediateDirectories: true)
            try await prepare(name, dataDirectory(name))
            try startStorageNode(name)
            try startGateway(name)
        }
        for name in all {
            let up = await poll(timeout: .seconds(20)) { await self.s3Answers(name) }
            #expect(up != nil, "front end \(name) does not answer: \(gateways[name]?.output.suffix(2000) ?? "")")
        }
    }

    var environment: [String: String] { [AdminToken.fileEnvironmentKey: tokenFile] }
    var stateDirectory: String { directory.file("state") }

    /// The store and front-end services of a node.
    static func services(of node: String) -> (store: String, s3: String) {
        node.hasPrefix("w") ? ("west-objects", "west-s3") : ("objects", "s3")
    }

    func startStorageNode(_ name: String) throws {
        storageNodes[name] = try ProcessFixture(
            executable: ZonalBinary.path,
            arguments: ["objects", "node", "--topology", file, "--service", Self.services(of: name).store, "--node", name, "--state-dir", stateDirectory],
            outputPath: directory.file("node-\(name)-\(UUID().uuidString.prefix(4)).out"), environment: environment)
    }

    func startGateway(_ name: String) throws {
        gateways[name] = try ProcessFixture(
            executable: ZonalBinary.path,
            arguments: ["objects", "s3", "--topology", file, "--service", Self.services(of: name).s3, "--node", name, "--state-dir", stateDirectory],
            outputPath: directory.file("s3-\(name)-\(UUID().uuidString.prefix(4)).out"), environment: environment)
    }

    func endpoint(_ name: String) -> String { "http://\(nodes[name]!):\(Self.s3Port)" }

    /// The node's data directory.
    func dataDirectory(_ name: String) -> String { directory.file("data/\(name)") }

    func kill9StorageNode(_ name: String) {
        storageNodes[name]?.signal(SIGKILL)
    }

    /// Whether the front end answers (any HTTP answer: unsigned requests get 403).
    func s3Answers(_ name: String) async -> Bool {
        (try? await HTTPClient.shared.get(url: endpoint(name)).get()) != nil
    }

    /// The root credentials, as S3 clients take them from the environment (what
    /// `zonal objects credentials` prints).
    func credentials(store: String = "objects") async throws -> [String: String] {
        try await exports(["objects", "credentials", "--service", store])
    }

    /// A new access key with `grants` (`zonal objects keys create --bucket …`), as environment
    /// variables for S3 clients.
    func accessKey(_ grants: [String]) async throws -> [String: String] {
        try await exports(["objects", "keys", "create"] + grants.flatMap { ["--bucket", $0] })
    }

    /// Runs `zonal` with this cluster's topology and state directory; its exit status and output.
    func zonal(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await ZonalBinary.run(arguments + ["--topology", file, "--state-dir", stateDirectory], directory: directory, environment: environment)
    }

    /// The `export NAME=value` lines `zonal` prints for `arguments`.
    private func exports(_ arguments: [String]) async throws -> [String: String] {
        let (status, output) = try await ZonalBinary.run(
            arguments + ["--topology", file, "--state-dir", stateDirectory], directory: directory, environment: environment)
        #expect(status == 0, "\(output)")
        var found: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1)
            if pair.count == 2 { found[String(pair[0])] = String(pair[1]) }
        }
        return found
    }

    /// Runs a boto3 script (the first `python3` on PATH, where pip installed boto3) with the
    /// store's credentials; its exit status and output.
    func python(_ script: String, _ arguments: [String], timeout: Duration = .seconds(120)) async throws -> (status: Int32?, output: String) {
        let path = try directory.write("script-\(UUID().uuidString.prefix(8)).py", script)
        return try await run("python3", [path] + arguments, timeout: timeout)
    }

    /// The AWS CLI against the front end of `node`.
    func aws(_ node: String, _ arguments: [String], timeout: Duration = .seconds(120)) async throws -> (status: Int32?, output: String) {
        try await run("aws", ["--endpoint-url", endpoint(node), "--region", "east"] + arguments, timeout: timeout)
    }

    /// Runs an S3 client (`program` found on PATH) with the store's credentials in the
    /// environment, plus `environment`.
    func run(_ program: String, _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(120)) async throws -> (
        status: Int32?, output: String
    ) {
        let base = ["AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": directory.file("no-aws-config"), "AWS_CA_BUNDLE": "", "AWS_DEFAULT_REGION": "east"]
        let fixture = try ProcessFixture(
            executable: Self.program(program), arguments: arguments, outputPath: directory.file("run-\(UUID().uuidString.prefix(8)).out"),
            environment: try await credentials().merging(base) { $1 }.merging(environment) { $1 })
        let status = await fixture.waitForExit(timeout: timeout)
        fixture.signal(SIGKILL)
        return (status, fixture.output)
    }

    static func program(_ name: String) -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        return "/usr/bin/\(name)"
    }

    func output(_ name: String) -> String {
        (storageNodes[name]?.output ?? "") + (gateways[name]?.output ?? "")
    }

    func stop() async {
        for gateway in gateways.values { await gateway.stop() }
        for node in storageNodes.values { await node.stop() }
        await coordinator.stop()
        directory.remove()
    }
}
