import ArgumentParser
import Foundation
import Logging
import ZonalCore
import ZonalObjects

struct ObjectsReplicationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replication",
        abstract: "Cross-region replication rules of an object store: per bucket (or prefix), to another store of the topology or any S3 endpoint.",
        discussion:
            "Rules live in the coordinator; the store's replicator (one of its front ends at a time) follows them, so a rule added, changed or removed takes effect within a second.",
        subcommands: [
            ObjectsReplicationSetCommand.self, ObjectsReplicationListCommand.self, ObjectsReplicationRemoveCommand.self,
            ObjectsReplicationStatusCommand.self,
        ]
    )
}

/// The store's rules as the command line reaches them: through the coordinator.
struct ObjectsReplicationOptions: ParsableArguments {
    @OptionGroup var objects: ObjectsServiceOptions

    func rules() throws -> (ReplicationRules, Topology, Topology.Service) {
        let (topology, service) = try objects.resolve(kind: "object-store")
        let coordinator = try objects.coordinator(topology)
        return (ReplicationRules(store: service.name, coordinator: coordinator, logger: Logger(label: "zonal.objects.replication")), topology, service)
    }

    /// The rules the topology declares for `store`.
    static func declared(_ store: Topology.Service) -> [ReplicationRule] {
        guard case .objectStore(let spec) = store.kind else { return [] }
        return spec.replication.map(ReplicationRule.init(declared:))
    }
}

struct ObjectsReplicationSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Add a rule, or change the rule of that name.",
        discussion:
            "Changing the prefix, --existing or the destination starts the rule over (versions the destination has are not sent again); changing --deletes does not."
    )

    @OptionGroup var options: ObjectsReplicationOptions
    @Argument(help: "The rule's name (letters, digits, '-', '_', '.').") var name: String
    @Option(help: "The source bucket.") var bucket: String
    @Option(help: "Only keys starting with this.") var prefix = ""
    @Flag(help: "Replicate delete markers and deletes of versions too.") var deletes = false
    @Flag(help: "Copy the objects the bucket holds already too (a backfill), not only new ones.") var existing = false
    @Option(help: "The destination: an object-store service of the topology.") var toStore: String?
    @Option(help: "The destination: any S3 endpoint, http(s)://host:port.") var toEndpoint: String?
    @Option(help: "The endpoint's region.") var toRegion = "us-east-1"
    @Option(help: "The endpoint's access key id.") var accessKeyId: String?
    @Option(help: "A file holding the endpoint's secret access key (kept sealed in the coordinator).") var secretFile: String?
    @Option(help: "The destination bucket (default: the source bucket's name).") var toBucket: String?

    func run() async throws {
        let (rules, topology, service) = try options.rules()
        guard !ObjectsReplicationOptions.declared(service).contains(where: { $0.name == name }) else {
            throw CommandFailure("rule \(name) is declared in the topology (services.\(service.name).objects.replication); change it there")
        }
        let destinationBucket = toBucket ?? bucket
        let destination: ReplicationRule.Destination
        switch (toStore, toEndpoint) {
        case (let store?, nil):
            guard topology.services.contains(where: { $0.name == store && $0.kind.name == "object-store" }), store != service.name else {
                throw ValidationError("--to-store names another object-store service of the topology")
            }
            destination = .init(bucket: destinationBucket, store: store)
        case (nil, let endpoint?):
            guard let accessKeyId, let secretFile else { throw ValidationError("--to-endpoint needs --access-key-id and --secret-file") }
            let secret: String
            let root: StoreCredentials
            do {
                secret = try SecretFile.read(secretFile)
                root = try StoreCredentials.load(file: StoreCredentials.file(store: service.name, stateDirectory: options.objects.stateDirectory(topology)))
            } catch { throw CommandFailure("\(error)") }
            let sealed = BucketReplicator.seal(root).seal(secret, id: BucketReplicator.sealID(name))
            destination = .init(bucket: destinationBucket, endpoint: endpoint, region: toRegion, accessKeyID: accessKeyId, sealedSecret: sealed)
        default:
            throw ValidationError("give --to-store or --to-endpoint, one of the two")
        }
        let rule = ReplicationRule(name: name, bucket: bucket, prefix: prefix, deletes: deletes, existing: existing, destination: destination, created: Date())
        do {
            let stored = try await rules.set(rule)
            print("rule \(stored.name): \(stored.bucket)/\(stored.prefix) -> \(stored.destination) (generation \(stored.generation))")
        } catch { throw CommandFailure(error.message) }
    }
}

struct ObjectsReplicationListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every replication rule of the store (never a secret).")

    @OptionGroup var options: ObjectsReplicationOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let (rules, _, service) = try options.rules()
        let declared = ObjectsReplicationOptions.declared(service)
        var all: [ReplicationRule]
        do { all = try await rules.all() } catch { throw CommandFailure(error.message) }
        all = (declared + all.filter { rule in !declared.contains { $0.name == rule.name } }).sorted { $0.name < $1.name }
        if json {
            try printJSON(
                all.map { rule in
                    var shown = rule
                    shown.destination.sealedSecret = nil
                    return shown
                })
            return
        }
        let rows = all.map { rule in
            [
                rule.name, "\(rule.bucket)/\(rule.prefix)", rule.destination.description, rule.deletes ? "yes" : "no", rule.existing ? "yes" : "no",
                declared.contains { $0.name == rule.name } ? "topology" : "coordinator (generation \(rule.generation))",
            ]
        }
        print(TextTable(header: ["RULE", "SOURCE", "DESTINATION", "DELETES", "EXISTING", "DEFINED IN"], rows: rows).lines().joined(separator: "\n"))
    }
}

struct ObjectsReplicationRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a rule: nothing more is sent for it.")

    @OptionGroup var options: ObjectsReplicationOptions
    @Argument(help: "The rule's name.") var name: String

    func run() async throws {
        let (rules, _, service) = try options.rules()
        guard !ObjectsReplicationOptions.declared(service).contains(where: { $0.name == name }) else {
            throw CommandFailure("rule \(name) is declared in the topology (services.\(service.name).objects.replication); remove it there")
        }
        let removed: Bool
        do { removed = try await rules.remove(name) } catch { throw CommandFailure(error.message) }
        guard removed else { throw CommandFailure("no replication rule \(name) in this store") }
        print("removed \(name)")
    }
}

struct ObjectsReplicationStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Per rule: objects and bytes pending, the age of the oldest (the RPO now), what was sent and how fast, the last error."
    )

    @OptionGroup var objects: ObjectsServiceOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let (topology, store) = try objects.resolve(kind: "object-store")
        let token = try objects.topologyOptions.adminToken(stateDirectory: objects.stateDirectory(topology))
        let frontEnds = try objects.frontEnds(of: store, in: topology)
        try await InstanceStatus<ReplicationStatus>(topology: topology, service: frontEnds, path: "/replication").print(json: json, token: token) {
            ReplicationStatusTable(reports: $0).render()
        }
    }
}
