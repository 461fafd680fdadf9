import ArgumentParser
import Foundation
import Logging
import ZonalCore
import ZonalObjects

struct ObjectsKeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Access keys of an object store besides its root key, each with read or read-write grants per bucket.",
        discussion:
            "Keys live in the coordinator with their secrets sealed by the store's root secret (<state_dir>/<store>/s3.secret); every front end follows them, so a new key works at once and a deleted one stops working at once.",
        subcommands: [ObjectsKeysCreateCommand.self, ObjectsKeysListCommand.self, ObjectsKeysDeleteCommand.self]
    )
}

/// The store's keys as the command line reaches them: through the coordinator, sealed with the
/// root secret from the state directory.
struct ObjectsKeysOptions: ParsableArguments {
    @OptionGroup var objects: ObjectsServiceOptions

    func keys() async throws -> AccessKeys {
        let (topology, service) = try objects.resolve(kind: "object-store")
        let root: StoreCredentials
        do {
            root = try StoreCredentials.load(file: StoreCredentials.file(store: service.name, stateDirectory: objects.stateDirectory(topology)))
        } catch { throw CommandFailure("\(error) (the first S3 front end creates it: is `zonal up` running?)") }
        let coordinator = try objects.coordinator(topology)
        return AccessKeys(root: root, store: service.name, coordinator: coordinator, logger: Logger(label: "zonal.objects.keys"))
    }
}

struct ObjectsKeysCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Make an access key and print it (the secret is shown only this once) as environment variables for S3 clients."
    )

    @OptionGroup var options: ObjectsKeysOptions
    @Option(name: .customLong("bucket"), help: "A grant: BUCKET (read and write), BUCKET:read or BUCKET:read-write; * for every bucket. Repeatable.")
    var grants: [String] = []
    @Option(help: "What the key is for, shown by `keys list`.") var description: String?

    func run() async throws {
        guard !grants.isEmpty else { throw ValidationError("name at least one --bucket to grant") }
        let parsed: [BucketGrant]
        do { parsed = try grants.map { text throws(S3Error) in try BucketGrant(parsing: text) } } catch { throw CommandFailure(error.message) }
        let keys = try await options.keys()
        do {
            let (record, secret) = try await keys.create(grants: parsed, description: description)
            print("export AWS_ACCESS_KEY_ID=\(record.id)")
            print("export AWS_SECRET_ACCESS_KEY=\(secret)")
            print("# grants: \(record.grants.map(\.description).joined(separator: ", "))")
        } catch { throw CommandFailure(error.message) }
    }
}

struct ObjectsKeysListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every access key but the root key, with its grants (never a secret).")

    @OptionGroup var options: ObjectsKeysOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let keys = try await options.keys()
        let all: [AccessKeyRecord]
        do { all = try await keys.all().sorted { $0.created < $1.created } } catch { throw CommandFailure(error.message) }
        if json {
            try printJSON(all.map { AccessKeyListing(id: $0.id, created: $0.created, description: $0.description, grants: $0.grants) })
            return
        }
        let rows = all.map {
            [$0.id, $0.grants.map(\.description).joined(separator: ", "), ISO8601DateFormatter().string(from: $0.created), $0.description ?? ""]
        }
        print(
            TextTable(header: ["KEY", "GRANTS", "CREATED", "DESCRIPTION"], rows: [[keys.root.accessKeyID, "*:root", "", "the root key"]] + rows).lines().joined(
                separator: "\n"))
    }

    /// A key as listed: no secret, not even sealed.
    struct AccessKeyListing: Encodable {
        var id: String
        var created: Date
        var description: String?
        var grants: [BucketGrant]
    }
}

struct ObjectsKeysDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete an access key: requests signed with it are refused from now on.")

    @OptionGroup var options: ObjectsKeysOptions
    @Argument(help: "The key's id (ZK…).") var id: String

    func run() async throws {
        let keys = try await options.keys()
        let deleted: Bool
        do { deleted = try await keys.delete(id) } catch { throw CommandFailure(error.message) }
        guard deleted else { throw CommandFailure("no access key \(id) in this store") }
        print("deleted \(id)")
    }
}
