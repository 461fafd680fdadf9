import ArgumentParser
import Foundation
import Logging
import ZonalCore
import ZonalObjects

struct ObjectsBucketsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "buckets",
        abstract: "The buckets of an object store as the coordinator holds them: creation time, region, versioning.",
        discussion: "Buckets are made and removed with any S3 client (CreateBucket, DeleteBucket, PutBucketVersioning) signed with the root key."
    )

    @OptionGroup var objects: ObjectsServiceOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let (topology, service) = try objects.resolve(kind: "object-store")
        let directory = BucketDirectory(
            store: service.name, coordinator: try objects.coordinator(topology), logger: Logger(label: "zonal.objects.buckets"))
        let buckets: [BucketDirectory.Bucket]
        do { buckets = try await directory.all().sorted { $0.name < $1.name } } catch { throw CommandFailure(error.message) }
        if json {
            try printJSON(buckets)
            return
        }
        let rows = buckets.map { [$0.name, ISO8601DateFormatter().string(from: $0.created), $0.region, $0.versioning?.rawValue ?? "never enabled"] }
        print(TextTable(header: ["BUCKET", "CREATED", "REGION", "VERSIONING"], rows: rows).lines().joined(separator: "\n"))
    }
}
