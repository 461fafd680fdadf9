import Foundation
import Testing
import ZonalCore
import ZonalTesting

/// Cross-region replication between two real stores (east: three zones; west: one), driven by
/// boto3 and `zonal objects replication`: versions arrive with their ids, deletes follow, the
/// source keeps taking writes while the other region is down and the lag shows, a rule added
/// later backfills, a removed rule stops.
@Suite("Object storage: cross-region replication", .serialized)
struct ObjectsReplicationTests {
    /// `east west command [arguments]`: each endpoint with the credentials in EAST_* / WEST_*.
    static let script = """
        import boto3, hashlib, json, os, sys
        from botocore.exceptions import ClientError
        def client(side, url):
            return boto3.client("s3", endpoint_url=url, region_name=side.lower(),
                                aws_access_key_id=os.environ[side + "_ID"], aws_secret_access_key=os.environ[side + "_SECRET"])
        east, west = client("EAST", sys.argv[1]), client("WEST", sys.argv[2])
        command, arguments = sys.argv[3], sys.argv[4:]
        def versions(s3, bucket):
            found = []
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                for v in page.get("Versions", []):
                    found.append((v["Key"], v["VersionId"], "object", v["Size"]))
                for m in page.get("DeleteMarkers", []):
                    found.append((m["Key"], m["VersionId"], "marker", 0))
            return sorted(found)
        if command == "buckets":
            for bucket in arguments:
                for s3 in (east, west):
                    s3.create_bucket(Bucket=bucket)
                    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            print("ok")
        elif command == "east-bucket":
            east.create_bucket(Bucket=arguments[0])
            print("ok")
        elif command == "meta":
            print(json.dumps(west.head_object(Bucket=arguments[0], Key=arguments[1])["Metadata"]))
        elif command == "write":
            bucket, prefix, count = arguments[0], arguments[1], int(arguments[2])
            for i in range(count):
                body = hashlib.sha256(f"{prefix}{i}".encode()).digest() * (1 + i * 997)
                east.put_object(Bucket=bucket, Key=f"{prefix}{i}", Body=body, Metadata={"n": str(i)}, ContentType="application/x-test")
            print("ok")
        elif command == "churn":
            bucket = arguments[0]
            east.put_object(Bucket=bucket, Key="doc", Body=b"first")
            east.put_object(Bucket=bucket, Key="doc", Body=b"second", Tagging="stage=final&owner=ops")
            east.put_object(Bucket=bucket, Key="gone", Body=b"soon deleted")
            east.delete_object(Bucket=bucket, Key="gone")
            east.upload_file(arguments[1], bucket, "big.bin")
            print("ok")
        elif command == "same":
            # Exit 0 when west holds exactly east's versions of the bucket (ids, kinds, sizes)
            # and the bytes and metadata of the newest of each key match.
            bucket = arguments[0]
            mine, theirs = versions(east, bucket), versions(west, bucket)
            if mine != theirs:
                print(json.dumps({"east": len(mine), "west": len(theirs), "missing": [v for v in mine if v not in theirs][:5]}))
                sys.exit(1)
            for key, vid, kind, size in mine:
                if kind != "object":
                    continue
                a = east.get_object(Bucket=bucket, Key=key, VersionId=vid)
                b = west.get_object(Bucket=bucket, Key=key, VersionId=vid)
                if (a["Body"].read() != b["Body"].read() or a["Metadata"] != b["Metadata"] or a["ContentType"] != b["ContentType"]
                        or a.get("TagCount") != b.get("TagCount")):
                    print("differs: " + key)
                    sys.exit(1)
            print(len(mine))
        elif command == "keys":
            s3 = west if arguments[0] == "west" else east
            print(json.dumps(sorted(k for k, _, kind, _ in versions(s3, arguments[1]) if kind == "object")))
        elif command == "forge":
            # A key that is not the root key may not choose a version id.
            reader = boto3.client("s3", endpoint_url=sys.argv[1], region_name="east",
                                  aws_access_key_id=os.environ["KEY_ID"], aws_secret_access_key=os.environ["KEY_SECRET"])
            def add(request, **kwargs):
                request.headers["x-zonal-replica-version-id"] = "f" * 32
                request.headers["x-zonal-replica-last-modified"] = "0"
            reader.meta.events.register("before-sign.s3.PutObject", add)
            try:
                reader.put_object(Bucket=arguments[0], Key="forged", Body=b"x")
                print("accepted")
            except ClientError as error:
                print(error.response["Error"]["Code"])
        """

    struct Sides {
        let cluster: ObjectStoreCluster
        let environment: [String: String]

        init(_ cluster: ObjectStoreCluster) async throws {
            self.cluster = cluster
            let east = try await cluster.credentials()
            let west = try await cluster.credentials(store: "west-objects")
            environment = [
                "EAST_ID": east["AWS_ACCESS_KEY_ID"] ?? "", "EAST_SECRET": east["AWS_SECRET_ACCESS_KEY"] ?? "",
                "WEST_ID": west["AWS_ACCESS_KEY_ID"] ?? "", "WEST_SECRET": west["AWS_SECRET_ACCESS_KEY"] ?? "",
            ]
        }

        func python(_ arguments: [String], extra: [String: String] = [:]) async throws -> (status: Int32?, output: String) {
            let path = try cluster.directory.write("replication-\(UUID().uuidString.prefix(8)).py", ObjectsReplicationTests.script)
            return try await cluster.run(
                "python3", [path, cluster.endpoint("n1"), cluster.endpoint("w1")] + arguments, environment: environment.merging(extra) { $1 })
        }

        /// Whether west holds what east holds of `bucket`, within `timeout`.
        func converged(_ bucket: String, timeout: Duration) async throws -> Bool {
            await poll(every: .milliseconds(500), timeout: timeout) { (try? await python(["same", bucket]))?.status == 0 } != nil
        }

        func status() async throws -> [String: Any]? {
            let (code, output) = try await cluster.zonal(["objects", "replication", "status", "--json"])
            let json = output.split(separator: "\n").prefix { !$0.hasPrefix("unreachable:") }.joined(separator: "\n")
            guard code == 0, let reports = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] else { return nil }
            return reports.first { $0["active"] as? Bool == true }
        }

        func rule(_ name: String) async throws -> [String: Any]? {
            (try await status()?["rules"] as? [[String: Any]])?.first { $0["name"] as? String == name }
        }
    }

    @Test(
        "versions, overwrites, tags, deletes and a multipart object reach the other region with their ids; with it down the source keeps writing, the lag shows and is caught up"
    )
    func replicatesAndCatchesUp() async throws {
        let cluster = try await ObjectStoreCluster(west: true)
        defer { Task { await cluster.stop() } }
        let sides = try await Sides(cluster)
        #expect(try await sides.python(["buckets", "photos"]).status == 0)
        let set = try await cluster.zonal(["objects", "replication", "set", "to-west", "--bucket", "photos", "--to-store", "west-objects", "--deletes"])
        #expect(set.status == 0, "\(set.output)")
        let big = try cluster.directory.write("big.bin", String(repeating: "zonal replicates ", count: 700_000))
        #expect(try await sides.python(["write", "photos", "a/", "12"]).status == 0)
        #expect(try await sides.python(["churn", "photos", big]).status == 0)
        #expect(try await sides.converged("photos", timeout: .seconds(30)), "\(cluster.output("n1").suffix(3000))")

        // West goes away: writes to east go on, and the status shows the lag growing.
        await cluster.gateways["w1"]?.stop()
        #expect(try await sides.python(["write", "photos", "during/", "10"]).status == 0)
        let lagging = await poll(every: .milliseconds(500), timeout: .seconds(15)) {
            guard let rule = try? await sides.rule("to-west") else { return false }
            return (rule["pendingObjects"] as? Int ?? 0) >= 10 && rule["lastError"] != nil && rule["oldestPendingSeconds"] is Double
        }
        let shown = String(describing: try await sides.status())
        #expect(lagging != nil, "no lag shown: \(shown)")
        let firstLag = try #require(try await sides.rule("to-west")?["oldestPendingSeconds"] as? Double)
        try await Task.sleep(for: .seconds(3))
        let laterLag = try #require(try await sides.rule("to-west")?["oldestPendingSeconds"] as? Double)
        #expect(laterLag > firstLag + 1, "the oldest pending version ages: \(firstLag) then \(laterLag)")
        let table = try await cluster.zonal(["objects", "replication", "status"])
        #expect(table.status == 0 && table.output.contains("to-west") && table.output.contains("last error"), "\(table.output)")

        try cluster.startGateway("w1")
        let converged = try await sides.converged("photos", timeout: .seconds(60))
        let caughtUp = await poll(every: .milliseconds(500), timeout: .seconds(10)) { (try? await sides.rule("to-west"))?["pendingObjects"] as? Int == 0 }
        let final = String(describing: try await sides.status())
        #expect(converged && caughtUp != nil, "west did not catch up: \(final)")
        let sent = try #require(try await sides.rule("to-west"))
        #expect((sent["replicatedObjects"] as? Int ?? 0) >= 27, "\(sent)")
    }

    @Test(
        "a rule of the topology makes its destination bucket; one to a plain S3 endpoint carries the source version in metadata; a rule added later with --existing backfills only its prefix; a removed rule sends nothing more; only the root key may set a version id"
    )
    func rulesOfEveryKind() async throws {
        let cluster = try await ObjectStoreCluster(west: true)
        defer { Task { await cluster.stop() } }
        let sides = try await Sides(cluster)

        // The topology's rule: west's bucket does not exist until the first version goes.
        #expect(try await sides.python(["east-bucket", "mirror"]).status == 0)
        #expect(try await sides.python(["write", "mirror", "m/", "3"]).status == 0)
        let mirrored = await poll(every: .milliseconds(500), timeout: .seconds(30)) {
            (try? await sides.python(["keys", "west", "mirror"]))?.output.contains("m/2") == true
        }
        #expect(mirrored != nil, "\(cluster.output("n1").suffix(2000))")

        // Any S3 endpoint: signed with its own key, the source version id in user metadata.
        #expect(try await sides.python(["buckets", "generic"]).status == 0)
        let secret = try cluster.directory.writePrivate("west-secret", sides.environment["WEST_SECRET"] ?? "")
        let generic = try await cluster.zonal([
            "objects", "replication", "set", "generic", "--bucket", "generic", "--to-endpoint", cluster.endpoint("w1"), "--to-region", "west",
            "--access-key-id", sides.environment["WEST_ID"] ?? "", "--secret-file", secret,
        ])
        #expect(generic.status == 0, "\(generic.output)")
        #expect(try await sides.python(["write", "generic", "g/", "2"]).status == 0)
        let copied = await poll(every: .milliseconds(500), timeout: .seconds(30)) {
            (try? await sides.python(["keys", "west", "generic"]))?.output.contains("g/1") == true
        }
        #expect(copied != nil)
        let (_, metadata) = try await sides.python(["meta", "generic", "g/1"])
        #expect(metadata.contains("zonal-source-version") && metadata.contains("\"n\": \"1\""), "\(metadata)")
        let rules = try await cluster.zonal(["objects", "replication", "list", "--json"])
        #expect(!rules.output.contains("sealedSecret") && rules.output.contains("declared-mirror"), "\(rules.output)")

        #expect(try await sides.python(["buckets", "archive"]).status == 0)
        #expect(try await sides.python(["write", "archive", "keep/", "8"]).status == 0)
        #expect(try await sides.python(["write", "archive", "skip/", "3"]).status == 0)
        let set = try await cluster.zonal([
            "objects", "replication", "set", "backfill", "--bucket", "archive", "--prefix", "keep/", "--existing", "--to-store", "west-objects",
        ])
        #expect(set.status == 0, "\(set.output)")
        let keys = (0..<8).map { "keep/\($0)" }
        let arrived = await poll(every: .milliseconds(500), timeout: .seconds(30)) {
            (try? await sides.python(["keys", "west", "archive"]))?.output.contains("keep/7") == true
        }
        #expect(arrived != nil)
        let (_, westKeys) = try await sides.python(["keys", "west", "archive"])
        let listed = try JSONSerialization.jsonObject(with: Data(westKeys.utf8)) as? [String]
        #expect(listed == keys, "only keep/: \(westKeys)")

        let list = try await cluster.zonal(["objects", "replication", "list"])
        #expect(list.output.contains("backfill") && list.output.contains("west-objects/archive"), "\(list.output)")
        let removed = try await cluster.zonal(["objects", "replication", "remove", "backfill"])
        #expect(removed.status == 0, "\(removed.output)")
        try await Task.sleep(for: .seconds(2))
        #expect(try await sides.python(["write", "archive", "keep/late-", "1"]).status == 0)
        try await Task.sleep(for: .seconds(4))
        let (_, after) = try await sides.python(["keys", "west", "archive"])
        #expect(!after.contains("late"), "a removed rule sent a new object: \(after)")

        let key = try await cluster.accessKey(["archive"])
        let forged = try await sides.python(
            ["forge", "archive"], extra: ["KEY_ID": key["AWS_ACCESS_KEY_ID"] ?? "", "KEY_SECRET": key["AWS_SECRET_ACCESS_KEY"] ?? ""])
        #expect(forged.output.contains("AccessDenied"), "\(forged.output)")
    }
}
