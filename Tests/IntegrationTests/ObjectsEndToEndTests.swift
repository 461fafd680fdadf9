import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import ZonalCore
import ZonalTesting

/// The object store with the clients people use: boto3 and the AWS CLI across buckets,
/// listings, multipart uploads and presigned URLs; a storage node killed during uploads; a
/// replica damaged on disk; hostile requests.
@Suite("Object storage end to end", .serialized)
struct ObjectsEndToEndTests {
    static let boto3Tour = """
        import boto3, hashlib, io, os, sys, time, urllib.request, urllib.error
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config
        from botocore.exceptions import ClientError
        endpoint = sys.argv[1]
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="east", config=Config(retries={"max_attempts": 1}))
        def code(call):
            try:
                call()
            except ClientError as error:
                return error.response["Error"]["Code"]
            return None
        s3.create_bucket(Bucket="tour")
        assert code(lambda: s3.create_bucket(Bucket="tour")) == "BucketAlreadyOwnedByYou"
        assert "tour" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        data = os.urandom(300_000)
        s3.put_object(Bucket="tour", Key="a/b c+d.bin", Body=data, Metadata={"color": "blue"}, ContentType="application/x-test")
        got = s3.get_object(Bucket="tour", Key="a/b c+d.bin")
        assert got["Body"].read() == data and got["Metadata"] == {"color": "blue"} and got["ContentType"] == "application/x-test"
        assert s3.get_object(Bucket="tour", Key="a/b c+d.bin", Range="bytes=1000-1999")["Body"].read() == data[1000:2000]
        etag = s3.head_object(Bucket="tour", Key="a/b c+d.bin")["ETag"]
        assert etag.strip('"') == hashlib.md5(data).hexdigest()
        assert code(lambda: s3.get_object(Bucket="tour", Key="a/b c+d.bin", IfNoneMatch=etag)) == "304"
        assert code(lambda: s3.get_object(Bucket="tour", Key="a/b c+d.bin", IfMatch='"nope"')) == "PreconditionFailed"
        assert code(lambda: s3.get_object(Bucket="tour", Key="nothing")) == "NoSuchKey"
        assert code(lambda: s3.get_object(Bucket="no-such-bucket", Key="x")) == "NoSuchBucket"
        for i in range(23):
            s3.put_object(Bucket="tour", Key=f"many/{i:03d}", Body=b"x" * i)
        s3.put_object(Bucket="tour", Key="many/sub/1", Body=b"1")
        keys, prefixes, token = [], [], None
        while True:
            args = dict(Bucket="tour", Prefix="many/", Delimiter="/", MaxKeys=5)
            if token: args["ContinuationToken"] = token
            page = s3.list_objects_v2(**args)
            keys += [o["Key"] for o in page.get("Contents", [])]
            prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
            if not page["IsTruncated"]: break
            token = page["NextContinuationToken"]
        assert keys == [f"many/{i:03d}" for i in range(23)], keys
        assert prefixes == ["many/sub/"], prefixes
        v1 = [o["Key"] for page in s3.get_paginator("list_objects").paginate(Bucket="tour", Prefix="many/", PaginationConfig={"PageSize": 4}) for o in page.get("Contents", [])]
        assert v1 == [f"many/{i:03d}" for i in range(23)] + ["many/sub/1"], v1
        s3.copy_object(Bucket="tour", Key="copied", CopySource={"Bucket": "tour", "Key": "a/b c+d.bin"})
        copied = s3.get_object(Bucket="tour", Key="copied")
        assert copied["Body"].read() == data and copied["Metadata"] == {"color": "blue"}
        deleted = s3.delete_objects(Bucket="tour", Delete={"Objects": [{"Key": f"many/{i:03d}"} for i in range(23)]})
        assert len(deleted["Deleted"]) == 23
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="tour", Prefix="many/")["Contents"]] == ["many/sub/1"]
        big = os.urandom(17 * 1024 * 1024 + 123)
        s3.upload_fileobj(io.BytesIO(big), "tour", "big.bin", Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
        head = s3.head_object(Bucket="tour", Key="big.bin")
        assert head["ContentLength"] == len(big) and head["ETag"].endswith('-4"'), head
        out = io.BytesIO()
        s3.download_fileobj("tour", "big.bin", out, Config=TransferConfig(multipart_threshold=4 << 20, multipart_chunksize=3 << 20))
        assert out.getvalue() == big
        assert s3.get_object(Bucket="tour", Key="big.bin", Range="bytes=5242000-5243000")["Body"].read() == big[5242000:5243001]
        second = s3.get_object(Bucket="tour", Key="big.bin", PartNumber=2)
        assert second["Body"].read() == big[5 << 20:10 << 20] and second["PartsCount"] == 4, second["ResponseMetadata"]
        assert s3.head_object(Bucket="tour", Key="big.bin", PartNumber=4)["ContentLength"] == len(big) - (15 << 20)
        assert code(lambda: s3.get_object(Bucket="tour", Key="big.bin", PartNumber=5)) == "InvalidPartNumber"
        assert s3.get_object(Bucket="tour", Key="copied", PartNumber=1)["Body"].read() == data, "a simple object is its own part 1"
        upload = s3.create_multipart_upload(Bucket="tour", Key="abandoned")["UploadId"]
        s3.upload_part(Bucket="tour", Key="abandoned", UploadId=upload, PartNumber=2, Body=b"part two")
        assert [p["PartNumber"] for p in s3.list_parts(Bucket="tour", Key="abandoned", UploadId=upload)["Parts"]] == [2]
        assert upload in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="tour").get("Uploads", [])]
        assert code(lambda: s3.complete_multipart_upload(Bucket="tour", Key="abandoned", UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]})) == "InvalidPart"
        s3.abort_multipart_upload(Bucket="tour", Key="abandoned", UploadId=upload)
        assert code(lambda: s3.list_parts(Bucket="tour", Key="abandoned", UploadId=upload)) == "NoSuchUpload"
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "tour", "Key": "copied"}, ExpiresIn=60)
        assert urllib.request.urlopen(url).read() == data
        put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "tour", "Key": "presigned-put"}, ExpiresIn=60)
        urllib.request.urlopen(urllib.request.Request(put_url, data=b"via url", method="PUT"))
        assert s3.get_object(Bucket="tour", Key="presigned-put")["Body"].read() == b"via url"
        expired = s3.generate_presigned_url("get_object", Params={"Bucket": "tour", "Key": "copied"}, ExpiresIn=1)
        time.sleep(2.1)
        try:
            urllib.request.urlopen(expired)
            raise SystemExit("an expired URL was served")
        except urllib.error.HTTPError as error:
            assert error.code == 403 and b"Request has expired" in error.read()
        wrong = boto3.client("s3", endpoint_url=endpoint, region_name="east", aws_access_key_id="ZONALNOSUCHKEY0000", aws_secret_access_key="x")
        assert code(lambda: wrong.list_buckets()) == "InvalidAccessKeyId"
        forged = boto3.client("s3", endpoint_url=endpoint, region_name="east", aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="forged")
        assert code(lambda: forged.get_object(Bucket="tour", Key="copied")) == "SignatureDoesNotMatch"
        other_region = boto3.client("s3", endpoint_url=endpoint, region_name="west")
        assert code(lambda: other_region.list_buckets()) == "AuthorizationHeaderMalformed"
        assert code(lambda: s3.delete_bucket(Bucket="tour")) == "BucketNotEmpty"
        print("tour ok")
        """

    @Test("boto3: buckets, metadata, ranges and conditions, paginated listings with delimiters, copy, batch delete, multipart, presigned URLs, wrong keys")
    func boto3() async throws {
        try await Self.passes(Self.boto3Tour, printing: "tour ok")
    }

    /// Runs a boto3 `script` against a fresh store's front end on n2; it passes when it exits 0
    /// having printed `marker`.
    static func passes(_ script: String, printing marker: String) async throws {
        let cluster = try await ObjectStoreCluster()
        defer { Task { await cluster.stop() } }
        let (status, output) = try await cluster.python(script, [cluster.endpoint("n2")])
        #expect(status == 0 && output.contains(marker), "\(output.suffix(3000))\n\(cluster.output("n2").suffix(2000))")
    }

    @Test("the AWS CLI: make a bucket, copy a large file up and down (multipart), sync a directory, list it")
    func awsCLI() async throws {
        let cluster = try await ObjectStoreCluster()
        defer { Task { await cluster.stop() } }
        let large = cluster.directory.file("large.bin")
        FileManager.default.createFile(atPath: large, contents: Data((0..<(21 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }))
        let tree = cluster.directory.file("tree")
        for index in 0..<30 {
            try FileManager.default.createDirectory(atPath: "\(tree)/d\(index % 3)", withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: "\(tree)/d\(index % 3)/f\(index).txt", contents: Data("file \(index)\n".utf8))
        }
        for arguments in [
            ["s3", "mb", "s3://cli"], ["s3", "cp", "--quiet", large, "s3://cli/large.bin"], ["s3", "cp", "--quiet", "s3://cli/large.bin", large + ".back"],
            ["s3", "sync", "--quiet", tree, "s3://cli/tree"],
        ] {
            let (status, output) = try await cluster.aws("n1", arguments)
            #expect(status == 0, "aws \(arguments.joined(separator: " ")): \(output.suffix(2000))")
        }
        #expect(FileManager.default.contentsEqual(atPath: large, andPath: large + ".back"))
        let (_, listing) = try await cluster.aws("n3", ["s3", "ls", "--recursive", "s3://cli/tree/"])
        #expect(listing.split(separator: "\n").count == 30, "\(listing)")
        let (_, again) = try await cluster.aws("n2", ["s3", "sync", tree, "s3://cli/tree"])
        #expect(!again.contains("upload:"), "a second sync found nothing new: \(again)")
    }

    @Test("rclone, s3cmd and restic: copy and check a tree, a multipart upload and download, a restic repository backed up, checked and restored")
    func otherClients() async throws {
        let cluster = try await ObjectStoreCluster()
        defer { Task { await cluster.stop() } }
        let tree = cluster.directory.file("tree")
        try FileManager.default.createDirectory(atPath: "\(tree)/a/b", withIntermediateDirectories: true)
        for index in 0..<8 { FileManager.default.createFile(atPath: "\(tree)/a/f\(index)", contents: Data("file \(index)\n".utf8)) }
        let large = Data((0..<(18 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_246_822_519 >> 11) })
        FileManager.default.createFile(atPath: "\(tree)/a/b/large", contents: large)
        let endpoint = cluster.endpoint("n2")
        let credentials = try await cluster.credentials()
        let rclone = [
            "RCLONE_CONFIG_Z_TYPE": "s3", "RCLONE_CONFIG_Z_PROVIDER": "Other", "RCLONE_CONFIG_Z_ENDPOINT": endpoint, "RCLONE_CONFIG_Z_ENV_AUTH": "true",
            "RCLONE_CONFIG_Z_REGION": "east", "RCLONE_CONFIG": cluster.directory.file("rclone.conf"),
        ]
        let host = "\(cluster.nodes["n2"]!):\(ObjectStoreCluster.s3Port)"
        let s3cmd = [
            "--host=\(host)", "--host-bucket=\(host)", "--no-ssl", "--region=east", "--access_key=\(credentials["AWS_ACCESS_KEY_ID"] ?? "")",
            "--secret_key=\(credentials["AWS_SECRET_ACCESS_KEY"] ?? "")",
        ]
        let restic = ["RESTIC_PASSWORD": "a restic passphrase", "RESTIC_REPOSITORY": "s3:\(endpoint)/restic-repo"]
        let steps: [(String, [String], [String: String])] = [
            ("rclone", ["mkdir", "z:clients"], rclone), ("rclone", ["copy", tree, "z:clients/tree"], rclone),
            ("rclone", ["check", tree, "z:clients/tree"], rclone),
            ("s3cmd", s3cmd + ["put", "\(tree)/a/b/large", "s3://clients/s3cmd/large"], [:]),
            ("s3cmd", s3cmd + ["get", "--force", "s3://clients/s3cmd/large", cluster.directory.file("large.s3cmd")], [:]),
            ("restic", ["init"], restic), ("restic", ["backup", tree], restic), ("restic", ["check", "--read-data"], restic),
            ("restic", ["restore", "latest", "--target", cluster.directory.file("restored")], restic),
        ]
        for (program, arguments, environment) in steps {
            let (status, output) = try await cluster.run(program, arguments, environment: environment)
            #expect(status == 0, "\(program) \(arguments.prefix(3).joined(separator: " ")): \(output.suffix(2000))")
        }
        #expect(FileManager.default.contents(atPath: cluster.directory.file("large.s3cmd")) == large)
        #expect(FileManager.default.contents(atPath: cluster.directory.file("restored") + tree + "/a/b/large") == large)
        #expect(FileManager.default.contents(atPath: cluster.directory.file("restored") + tree + "/a/f3") == Data("file 3\n".utf8))
    }

    static let uploader = """
        import boto3, hashlib, json, os, sys, time
        from botocore.config import Config
        endpoint, seconds, log = sys.argv[1], float(sys.argv[2]), sys.argv[3]
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="east", config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))
        s3.create_bucket(Bucket="faults")
        acked, errors, start, i = {}, [], time.time(), 0
        while time.time() - start < seconds:
            i += 1
            body = os.urandom(1000 + (i * 7919) % 400_000)
            try:
                s3.put_object(Bucket="faults", Key=f"k{i:05d}", Body=body)
                acked[f"k{i:05d}"] = hashlib.sha256(body).hexdigest()
            except Exception as error:
                errors.append([i, time.time() - start, str(error)[:200]])
        json.dump({"acked": acked, "errors": errors}, open(log, "w"))
        """

    static let verifier = """
        import boto3, hashlib, json, sys
        endpoint, log = sys.argv[1], sys.argv[2]
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="east")
        acked = json.load(open(log))["acked"]
        bad = [k for k, digest in acked.items() if hashlib.sha256(s3.get_object(Bucket="faults", Key=k)["Body"].read()).hexdigest() != digest]
        listed = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="faults"):
            listed |= {o["Key"] for o in page.get("Contents", [])}
        missing = sorted(set(acked) - listed)
        print(f"checked {len(acked)} bad {bad[:5]} unlisted {missing[:5]}")
        sys.exit(1 if bad or missing else 0)
        """

    @Test("kill -9 of a zone's storage node during uploads: every acknowledged object stays listed and intact, and the node is healed when it returns")
    func storageNodeLoss() async throws {
        let cluster = try await ObjectStoreCluster()
        defer { Task { await cluster.stop() } }
        let log = cluster.directory.file("uploads.json")
        async let uploading = cluster.python(Self.uploader, [cluster.endpoint("n1"), "5", log])
        try await Task.sleep(for: .seconds(1.5))
        cluster.kill9StorageNode("n3")
        let (status, output) = try await uploading
        #expect(status == 0, "\(output)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: log))) as? [String: Any])
        let acked = try #require(result["acked"] as? [String: String])
        let errors = result["errors"] as? [[Any]] ?? []
        #expect(acked.count > 20, "only \(acked.count) uploads acknowledged")
        #expect(errors.count <= 2, "a lost zone stops no writes: \(errors)")
        let (verified, report) = try await cluster.python(Self.verifier, [cluster.endpoint("n2"), log])
        #expect(verified == 0, "\(report)")

        try cluster.startStorageNode("n3")
        let back = await poll(timeout: .seconds(20)) {
            (try? await HTTPClient.shared.get(url: "http://\(cluster.nodes["n3"]!):\(ObjectStoreCluster.storagePort)/health").get())?.status == .ok
        }
        #expect(back != nil, "n3 did not come back: \(cluster.output("n3").suffix(2000))")
        // Reads find n3 behind and repair it from the others.
        let (reread, rereport) = try await cluster.python(Self.verifier, [cluster.endpoint("n3"), log])
        #expect(reread == 0, "\(rereport)")
        let healed = await poll(timeout: .seconds(20)) {
            var missing = 0
            for key in acked.keys where await self.nodeVersion(cluster, "n3", key: key) == nil { missing += 1 }
            return missing == 0
        }
        #expect(healed != nil, "n3 still lacks replicas after the reads repaired it")
    }

    static let timedClient = """
        import boto3, hashlib, json, os, sys, time
        from botocore.config import Config
        s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="east", config=Config(retries={"max_attempts": 1}, read_timeout=30))
        s3.create_bucket(Bucket="hang")
        slowest, start, count = 0.0, time.time(), 0
        while time.time() - start < float(sys.argv[2]):
            count += 1
            body = os.urandom(1000 + (count * 7919) % 300_000)
            began = time.time()
            s3.put_object(Bucket="hang", Key=f"h{count}", Body=body)
            assert hashlib.sha256(s3.get_object(Bucket="hang", Key=f"h{count}")["Body"].read()).digest() == hashlib.sha256(body).digest()
            slowest = max(slowest, time.time() - began)
        began = time.time()
        listed = sum(len(page.get("Contents", [])) for page in s3.get_paginator("list_objects_v2").paginate(Bucket="hang"))
        print(json.dumps({"count": count, "slowest": slowest, "listed": listed, "listing": time.time() - began}))
        """

    @Test("a storage node that hangs without closing its connections (SIGSTOP) holds up no write, read or listing for long")
    func hungStorageNode() async throws {
        let cluster = try await ObjectStoreCluster(nodeTimeout: "10s")
        defer { Task { await cluster.stop() } }
        cluster.storageNodes["n2"]?.signal(SIGSTOP)
        let (status, output) = try await cluster.python(Self.timedClient, [cluster.endpoint("n1"), "4"])
        cluster.storageNodes["n2"]?.signal(SIGCONT)
        #expect(status == 0, "\(output)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
        let count = try #require(result["count"] as? Int)
        #expect(count > 10, "\(output)")
        #expect(result["listed"] as? Int == count)
        #expect((result["slowest"] as? Double ?? 99) < 2.5, "a write or read waited for the hung node: \(output)")
        #expect((result["listing"] as? Double ?? 99) < 2.5, "the listing waited for the hung node: \(output)")
    }

    @Test("a front end that reaches too few storage nodes to write and read says so on /health (503, for the balancer), and is healthy again when they return")
    func frontEndHealth() async throws {
        let cluster = try await ObjectStoreCluster()
        defer { Task { await cluster.stop() } }
        func health() async -> (UInt, String) {
            guard let response = try? await HTTPClient.shared.get(url: "http://\(cluster.nodes["n1"]!):9201/health").get() else { return (0, "") }
            return (response.status.code, response.body.map { String(buffer: $0) } ?? "")
        }
        let (status, body) = await health()
        #expect(status == 200 && body.contains("3/3"), "\(status) \(body)")
        await cluster.storageNodes["n2"]?.stop()
        await cluster.storageNodes["n3"]?.stop()
        let (down, reason) = await health()
        #expect(down == 503 && reason.contains("only 1 of 3"), "\(down) \(reason)")
        try cluster.startStorageNode("n2")
        let back = await poll(timeout: .seconds(20)) { await health().0 == 200 }
        let last = await health()
        #expect(back != nil, "n1's front end did not become healthy with 2 of 3 nodes: \(last)")
    }

    @Test("a multipart upload nobody completes is aborted after upload_expiry, its parts removed from every node; a completed one is kept")
    func abandonedUploads() async throws {
        let cluster = try await ObjectStoreCluster(uploadExpiry: "3s")
        defer { Task { await cluster.stop() } }
        let script = """
            import boto3, sys, time
            from botocore.exceptions import ClientError
            s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="east")
            s3.create_bucket(Bucket="parts")
            left = s3.create_multipart_upload(Bucket="parts", Key="left")["UploadId"]
            s3.upload_part(Bucket="parts", Key="left", UploadId=left, PartNumber=1, Body=b"L" * 700_001)
            done = s3.create_multipart_upload(Bucket="parts", Key="done")["UploadId"]
            etag = s3.upload_part(Bucket="parts", Key="done", UploadId=done, PartNumber=1, Body=b"D" * 800_003)["ETag"]
            s3.complete_multipart_upload(Bucket="parts", Key="done", UploadId=done, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
            for _ in range(100):
                if not s3.list_multipart_uploads(Bucket="parts").get("Uploads"):
                    break
                time.sleep(0.2)
            else:
                sys.exit("the abandoned upload is still listed")
            try:
                s3.upload_part(Bucket="parts", Key="left", UploadId=left, PartNumber=2, Body=b"late")
                sys.exit("a part was taken for an aborted upload")
            except ClientError as error:
                assert error.response["Error"]["Code"] == "NoSuchUpload", error.response
            assert s3.get_object(Bucket="parts", Key="done")["Body"].read() == b"D" * 800_003
            print("ok")
            """
        let (status, output) = try await cluster.python(script, [cluster.endpoint("n1")])
        #expect(status == 0 && output.contains("ok"), "\(output)")
        for node in ["n1", "n2", "n3"] {
            let objects = cluster.dataDirectory(node) + "/objects"
            let sizes = (FileManager.default.subpaths(atPath: objects) ?? []).filter { $0.contains("-") }.compactMap {
                (try? FileManager.default.attributesOfItem(atPath: "\(objects)/\($0)")[.size]) as? Int
            }
            #expect(!sizes.contains(700_001) && sizes.contains(800_003), "\(node): \(sizes)")
        }
    }

    @Test("a replica damaged or deleted on disk is never served: the read moves to another replica, and the damaged one is repaired")
    func damagedReplica() async throws {
        let cluster = try await ObjectStoreCluster()
        defer { Task { await cluster.stop() } }
        let script = """
            import boto3, hashlib, os, sys
            s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="east")
            if sys.argv[2] == "put":
                s3.create_bucket(Bucket="damage")
                body = bytes((i * 31) % 251 for i in range(3_000_000))
                s3.put_object(Bucket="damage", Key="victim", Body=body)
                print(hashlib.sha256(body).hexdigest())
            else:
                print(hashlib.sha256(s3.get_object(Bucket="damage", Key="victim")["Body"].read()).hexdigest())
            """
        let (_, digest) = try await cluster.python(script, [cluster.endpoint("n1"), "put"])
        let expected = digest.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(expected.count == 64, "\(digest)")
        for (node, damage) in [("n1", "flip"), ("n2", "delete")] {
            let objects = cluster.dataDirectory(node) + "/objects"
            let file = try #require(FileManager.default.subpaths(atPath: objects)?.first { $0.contains("-") })
            let path = "\(objects)/\(file)"
            if damage == "flip" {
                let handle = try #require(FileHandle(forUpdatingAtPath: path))
                try handle.seek(toOffset: 2_000_000)
                let byte = try #require(try handle.read(upToCount: 1)?.first)
                try handle.seek(toOffset: 2_000_000)
                try handle.write(contentsOf: Data([byte ^ 0x5A]))
                try handle.close()
            } else {
                try FileManager.default.removeItem(atPath: path)
            }
            // The front end of the damaged node's zone reads that node first.
            let (_, read) = try await cluster.python(script, [cluster.endpoint(node), "get"])
            #expect(read.trimmingCharacters(in: .whitespacesAndNewlines) == expected, "\(node) \(damage): \(read)\n\(cluster.output(node).suffix(2000))")
            let repaired = await poll(timeout: .seconds(15)) {
                guard await self.nodeVersion(cluster, node, key: "victim", bucket: "damage") != nil,
                    let name = FileManager.default.subpaths(atPath: objects)?.first(where: { $0.contains("-") }),
                    let bytes = FileManager.default.contents(atPath: "\(objects)/\(name)")
                else { return false }
                return bytes.count == 3_000_000 && bytes[2_000_000] == UInt8((2_000_000 * 31) % 251)
            }
            #expect(repaired != nil, "\(node)'s replica was not repaired after \(damage): \(cluster.output(node).suffix(3000))")
        }
    }

    @Test(
        "the scrubber heals what no client reads: a node that missed every write, a damaged replica and a deleted one, each back whole; scrub status shows it")
    func scrubberHeals() async throws {
        let cluster = try await ObjectStoreCluster(scrubInterval: "1s")
        defer { Task { await cluster.stop() } }
        await cluster.storageNodes["n3"]?.stop()
        let script = """
            import boto3, hashlib, json, sys
            s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="east")
            s3.create_bucket(Bucket="faults")
            bodies = {f"k{i}": bytes((i * j) % 251 for j in range(i * 997)) for i in range(25)}
            bodies["big"] = bytes((j * 31) % 251 for j in range(3_000_000))
            for key, body in bodies.items():
                s3.put_object(Bucket="faults", Key=key, Body=body)
            s3.put_object(Bucket="faults", Key="gone", Body=b"soon deleted")
            s3.delete_object(Bucket="faults", Key="gone")
            print(json.dumps({key: hashlib.sha256(body).hexdigest() for key, body in bodies.items()}))
            """
        let (status, output) = try await cluster.python(script, [cluster.endpoint("n1")])
        #expect(status == 0, "\(output)")
        let digests = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: String], "\(output)")

        // n3 missed every write; now n1's replica of the big object gets a flipped byte and n2's
        // of k20 (19,940 bytes) is deleted, so each object still has one good copy. No client
        // reads any of them again.
        func replica(_ node: String, size: Int) -> String? {
            let objects = cluster.dataDirectory(node) + "/objects"
            let files = (FileManager.default.subpaths(atPath: objects) ?? []).filter { $0.contains("-") }.map { "\(objects)/\($0)" }
            return files.first { ((try? FileManager.default.attributesOfItem(atPath: $0)[.size]) as? Int) == size }
        }
        let flipped = try #require(replica("n1", size: 3_000_000))
        let handle = try #require(FileHandle(forUpdatingAtPath: flipped))
        try handle.seek(toOffset: 2_000_000)
        try handle.write(contentsOf: Data([UInt8((2_000_000 * 31) % 251) ^ 0x5A]))
        try handle.close()
        try FileManager.default.removeItem(atPath: try #require(replica("n2", size: 20 * 997)))
        try cluster.startStorageNode("n3")

        let keys = Array(digests.keys) + ["gone"]
        let healed = await poll(timeout: .seconds(40)) {
            for node in ["n1", "n2", "n3"] {
                for key in keys where await self.nodeVersion(cluster, node, key: key) == nil { return false }
                guard replica(node, size: 20 * 997) != nil, let big = replica(node, size: 3_000_000), let bytes = FileManager.default.contents(atPath: big),
                    bytes[2_000_000] == UInt8((2_000_000 * 31) % 251)
                else { return false }
            }
            return true
        }
        #expect(healed != nil, "not every replica is back: \(["n1", "n2", "n3"].map { cluster.output($0).suffix(1500) })")
        let marker = await self.nodeVersion(cluster, "n3", key: "gone") ?? ""
        #expect(marker.replacingOccurrences(of: " ", with: "").contains("\"isDeleteMarker\":true"), "the delete marker reached n3: \(marker)")

        let (listed, json) = try await ZonalBinary.run(
            ["objects", "scrub", "status", "--topology", cluster.file, "--json"], directory: cluster.directory, environment: cluster.environment)
        #expect(listed == 0, "\(json)")
        let reports = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]], "\(json)")
        #expect(reports.count == 3)
        func total(_ node: String, _ field: String) -> Int {
            ((reports.first { $0["node"] as? String == node }?["total"] as? [String: Any])?[field] as? Int) ?? 0
        }
        // A damaged replica is counted corrupt when its node's scrubber verifies it, or a failed
        // repair when the damage came between that check and the node's copy of it to n3.
        #expect(total("n1", "corrupt") + total("n1", "failed") >= 1 && total("n2", "corrupt") + total("n2", "failed") >= 1, "\(json)")
        #expect(["n1", "n2", "n3"].map { total($0, "healed") }.reduce(0, +) >= keys.count + 2, "n3 got every version, n1 and n2 theirs back: \(json)")
        let (shown, table) = try await ZonalBinary.run(
            ["objects", "scrub", "status", "--topology", cluster.file], directory: cluster.directory, environment: cluster.environment)
        #expect(shown == 0 && table.contains("HEALED") && table.contains("16.0 MiB/s"), "\(table)")

        // And what the scrubber healed reads back intact from each node's own zone.
        let verify = """
            import boto3, hashlib, json, sys
            s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="east")
            digests = json.loads(sys.argv[2])
            bad = [k for k, d in digests.items() if hashlib.sha256(s3.get_object(Bucket="faults", Key=k)["Body"].read()).hexdigest() != d]
            print("ok" if not bad else f"bad {bad}")
            """
        let (_, verdict) = try await cluster.python(verify, [cluster.endpoint("n3"), output.trimmingCharacters(in: .whitespacesAndNewlines)])
        #expect(verdict.trimmingCharacters(in: .whitespacesAndNewlines) == "ok", "\(verdict)")
    }

    static let versioning = """
        import boto3, json, sys
        from botocore.exceptions import ClientError
        s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="east")
        step = sys.argv[2]
        def code(call):
            try:
                call()
                return None
            except ClientError as error:
                return error.response["Error"]["Code"]
        def versions(**extra):
            found, kwargs = [], {"Bucket": "ver", **extra}
            while True:
                page = s3.list_object_versions(**kwargs)
                found += [(v["Key"], v["VersionId"], v["IsLatest"], "v") for v in page.get("Versions", [])]
                found += [(v["Key"], v["VersionId"], v["IsLatest"], "m") for v in page.get("DeleteMarkers", [])]
                if not page["IsTruncated"]:
                    return found
                kwargs["KeyMarker"], kwargs["VersionIdMarker"] = page["NextKeyMarker"], page.get("NextVersionIdMarker", "")
        if step == "write":
            s3.create_bucket(Bucket="ver")
            assert "Status" not in s3.get_bucket_versioning(Bucket="ver")
            s3.put_object(Bucket="ver", Key="doc", Body=b"before versioning")
            s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
            assert s3.get_bucket_versioning(Bucket="ver")["Status"] == "Enabled"
            ids = [s3.put_object(Bucket="ver", Key="doc", Body=f"v{i}".encode())["VersionId"] for i in range(1, 4)]
            assert len(set(ids)) == 3 and "null" not in ids, ids
            for i, vid in enumerate(ids, 1):
                assert s3.get_object(Bucket="ver", Key="doc", VersionId=vid)["Body"].read() == f"v{i}".encode()
            assert s3.get_object(Bucket="ver", Key="doc", VersionId="null")["Body"].read() == b"before versioning"
            for i in range(5):
                s3.put_object(Bucket="ver", Key=f"other/{i}", Body=b"x")
            deleted = s3.delete_object(Bucket="ver", Key="doc")
            assert deleted["DeleteMarker"] and deleted["VersionId"] not in ids
            assert code(lambda: s3.get_object(Bucket="ver", Key="doc")) == "NoSuchKey"
            assert code(lambda: s3.head_object(Bucket="ver", Key="doc", VersionId=deleted["VersionId"])) == "405"
            assert s3.list_objects_v2(Bucket="ver", Prefix="doc").get("KeyCount") == 0
            listed = versions(Prefix="doc")
            paged = versions(Prefix="doc", MaxKeys=1)
            assert sorted(listed) == sorted(paged), f"pages of one entry list the same: {listed} {paged}"
            assert sorted(v for k, v, latest, kind in listed) == sorted(ids + ["null", deleted["VersionId"]]), listed
            assert [v for k, v, latest, kind in listed if latest] == [deleted["VersionId"]], listed
            folded = s3.list_object_versions(Bucket="ver", Delimiter="/")
            assert [p["Prefix"] for p in folded.get("CommonPrefixes", [])] == ["other/"], folded
            # Undo the delete, then delete the newest version for good: the one before comes back.
            s3.delete_object(Bucket="ver", Key="doc", VersionId=deleted["VersionId"])
            assert s3.get_object(Bucket="ver", Key="doc")["Body"].read() == b"v3"
            s3.copy_object(Bucket="ver", Key="restored", CopySource={"Bucket": "ver", "Key": "doc", "VersionId": ids[0]})
            assert s3.get_object(Bucket="ver", Key="restored")["Body"].read() == b"v1"
            print(json.dumps(ids))
        elif step == "purge":
            ids = json.loads(sys.argv[3])
            s3.delete_object(Bucket="ver", Key="doc", VersionId=ids[2])
            assert s3.get_object(Bucket="ver", Key="doc")["Body"].read() == b"v2"
            assert code(lambda: s3.get_object(Bucket="ver", Key="doc", VersionId=ids[2])) == "NoSuchVersion"
            s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Suspended"})
            assert s3.put_object(Bucket="ver", Key="doc", Body=b"suspended 1")["VersionId"] == "null"
            assert s3.put_object(Bucket="ver", Key="doc", Body=b"suspended 2")["VersionId"] == "null"
            listed = versions(Prefix="doc")
            assert sorted(v for k, v, latest, kind in listed) == sorted(ids[:2] + ["null"]), listed
            assert s3.get_object(Bucket="ver", Key="doc", VersionId="null")["Body"].read() == b"suspended 2"
            result = s3.delete_objects(Bucket="ver", Delete={"Objects": [{"Key": "doc", "VersionId": ids[0]}, {"Key": "restored"}]})
            assert len(result["Deleted"]) == 2, result
            assert code(lambda: s3.delete_bucket(Bucket="ver")) == "BucketNotEmpty"
            print("ok")
        else:
            ids = json.loads(sys.argv[3])
            listed = versions(Prefix="doc")
            assert sorted(v for k, v, latest, kind in listed) == sorted(ids[1:2] + ["null"]), listed
            print("ok")
        """

    static let tagging = """
        import boto3, sys
        from botocore.exceptions import ClientError
        s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="east")
        def tags(key, **extra):
            return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket="tags", Key=key, **extra)["TagSet"]}
        def code(call):
            try:
                call()
            except ClientError as error:
                return error.response["Error"]["Code"]
            return None
        s3.create_bucket(Bucket="tags")
        s3.put_bucket_versioning(Bucket="tags", VersioningConfiguration={"Status": "Enabled"})
        first = s3.put_object(Bucket="tags", Key="doc", Body=b"one", Tagging="project=zonal&team=a%20b")["VersionId"]
        assert tags("doc") == {"project": "zonal", "team": "a b"}, tags("doc")
        assert s3.head_object(Bucket="tags", Key="doc")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"
        s3.put_object_tagging(Bucket="tags", Key="doc", Tagging={"TagSet": [{"Key": "stage", "Value": "final"}]})
        assert tags("doc") == {"stage": "final"}
        assert s3.get_object(Bucket="tags", Key="doc")["Body"].read() == b"one", "retagging keeps the bytes"
        second = s3.put_object(Bucket="tags", Key="doc", Body=b"two")["VersionId"]
        assert tags("doc") == {} and tags("doc", VersionId=first) == {"stage": "final"}, "tags belong to a version"
        s3.copy_object(Bucket="tags", Key="copy", CopySource={"Bucket": "tags", "Key": "doc", "VersionId": first})
        assert tags("copy") == {"stage": "final"}, "a copy keeps the tags by default"
        s3.copy_object(Bucket="tags", Key="copy2", CopySource={"Bucket": "tags", "Key": "doc", "VersionId": first}, TaggingDirective="REPLACE", Tagging="x=y")
        assert tags("copy2") == {"x": "y"}
        s3.delete_object_tagging(Bucket="tags", Key="doc", VersionId=first)
        assert tags("doc", VersionId=first) == {}
        assert code(lambda: s3.put_object(Bucket="tags", Key="bad", Body=b"x", Tagging="&".join(f"k{i}=v" for i in range(11)))) == "InvalidTag"
        assert code(lambda: s3.put_object_tagging(Bucket="tags", Key="doc", Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]})) == "InvalidTag"
        assert code(lambda: s3.get_object_tagging(Bucket="tags", Key="missing")) == "NoSuchKey"
        assert code(lambda: s3.get_bucket_tagging(Bucket="tags")) == "NotImplemented"
        mpu = s3.create_multipart_upload(Bucket="tags", Key="big", Tagging="kind=multipart")["UploadId"]
        part = s3.upload_part(Bucket="tags", Key="big", UploadId=mpu, PartNumber=1, Body=b"p" * 100)["ETag"]
        s3.complete_multipart_upload(Bucket="tags", Key="big", UploadId=mpu, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part}]})
        assert tags("big") == {"kind": "multipart"}
        print("tags ok")
        """

    @Test("tags: set with a PUT, a multipart upload or a copy, replaced and removed per version, limits refused with InvalidTag")
    func tagging() async throws {
        try await Self.passes(Self.tagging, printing: "tags ok")
    }

    @Test("versioning: every write kept, deletes undone, versions listed page by page, a version deleted for good stays deleted on a node that was away")
    func versioning() async throws {
        let cluster = try await ObjectStoreCluster(scrubInterval: "1s")
        defer { Task { await cluster.stop() } }
        let (wrote, ids) = try await cluster.python(Self.versioning, [cluster.endpoint("n1"), "write"])
        #expect(wrote == 0, "\(ids)")
        let idList = ids.trimmingCharacters(in: .whitespacesAndNewlines)
        // n3 is away while versions are deleted for good; when it returns, its scrubber learns of
        // the purges and nothing it held comes back.
        await cluster.storageNodes["n3"]?.stop()
        let (purged, purgeOutput) = try await cluster.python(Self.versioning, [cluster.endpoint("n1"), "purge", idList])
        #expect(purged == 0, "\(purgeOutput)")
        try cluster.startStorageNode("n3")
        let versions = try #require(try JSONSerialization.jsonObject(with: Data(idList.utf8)) as? [String])
        let gone = await poll(timeout: .seconds(30)) {
            for id in [versions[0], versions[2]] {
                guard let record = await self.nodeVersion(cluster, "n3", key: "doc", bucket: "ver", versionID: id), record.contains("isPurged") else {
                    return false
                }
            }
            return true
        }
        #expect(gone != nil, "n3 still holds versions deleted for good: \(cluster.output("n3").suffix(2000))")
        try await Task.sleep(for: .seconds(2))
        for node in ["n1", "n2", "n3"] {
            let (checked, output) = try await cluster.python(Self.versioning, [cluster.endpoint(node), "check", idList])
            #expect(checked == 0 && output.contains("ok"), "\(node): \(output)")
        }
    }

    static let keyUser = """
        import boto3, json, os, sys
        from botocore.exceptions import ClientError
        root = boto3.client("s3", endpoint_url=sys.argv[1], region_name="east")
        def client(prefix):
            return boto3.client("s3", endpoint_url=sys.argv[1], region_name="east",
                                aws_access_key_id=os.environ[prefix + "_ID"], aws_secret_access_key=os.environ[prefix + "_SECRET"])
        def code(call):
            try:
                call()
                return "ok"
            except ClientError as error:
                return error.response["Error"]["Code"]
        if sys.argv[2] == "setup":
            for bucket in ["shared", "private", "inbox"]:
                root.create_bucket(Bucket=bucket)
            root.put_object(Bucket="shared", Key="readme", Body=b"for everyone")
            root.put_object(Bucket="private", Key="secret", Body=b"root only")
            print("ok")
        elif sys.argv[2] == "use":
            reader, writer = client("READER"), client("WRITER")
            results = {
                "reader get": code(lambda: reader.get_object(Bucket="shared", Key="readme")),
                "reader put": code(lambda: reader.put_object(Bucket="shared", Key="x", Body=b"x")),
                "reader private": code(lambda: reader.get_object(Bucket="private", Key="secret")),
                "reader buckets": sorted(b["Name"] for b in reader.list_buckets()["Buckets"]),
                "writer put": code(lambda: writer.put_object(Bucket="inbox", Key="drop", Body=b"dropped")),
                "writer copy from shared": code(lambda: writer.copy_object(Bucket="inbox", Key="copy", CopySource={"Bucket": "shared", "Key": "readme"})),
                "writer copy from private": code(lambda: writer.copy_object(Bucket="inbox", Key="leak", CopySource={"Bucket": "private", "Key": "secret"})),
                "writer create bucket": code(lambda: writer.create_bucket(Bucket="newone")),
                "writer delete": code(lambda: writer.delete_object(Bucket="inbox", Key="drop")),
                "wrong secret": code(lambda: boto3.client("s3", endpoint_url=sys.argv[1], region_name="east",
                    aws_access_key_id=os.environ["READER_ID"], aws_secret_access_key="0" * 64).list_buckets()),
            }
            print(json.dumps(results))
        else:
            print(code(lambda: client("READER").get_object(Bucket="shared", Key="readme")))
        """

    @Test("access keys: a read key reads and lists only its buckets, a read-write key writes only into its own, a deleted key stops working at once")
    func accessKeys() async throws {
        let cluster = try await ObjectStoreCluster()
        defer { Task { await cluster.stop() } }
        let (setup, setupOutput) = try await cluster.python(Self.keyUser, [cluster.endpoint("n1"), "setup"])
        #expect(setup == 0, "\(setupOutput)")
        let reader = try await cluster.accessKey(["shared:read"])
        let writer = try await cluster.accessKey(["inbox", "shared:read"])
        let readerID = try #require(reader["AWS_ACCESS_KEY_ID"])
        #expect(readerID.hasPrefix("ZK") && reader["AWS_SECRET_ACCESS_KEY"]?.count == 64, "\(reader)")
        let keys = [
            "READER_ID": readerID, "READER_SECRET": reader["AWS_SECRET_ACCESS_KEY"] ?? "", "WRITER_ID": writer["AWS_ACCESS_KEY_ID"] ?? "",
            "WRITER_SECRET": writer["AWS_SECRET_ACCESS_KEY"] ?? "",
        ]
        let script = try cluster.directory.write("keys.py", Self.keyUser)
        // At once, on a front end in another zone than the one that may have seen the key first.
        let (used, output) = try await cluster.run("python3", [script, cluster.endpoint("n2"), "use"], environment: keys)
        #expect(used == 0, "\(output)")
        let results = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
        let expected: [String: String] = [
            "reader get": "ok", "reader put": "AccessDenied", "reader private": "AccessDenied", "writer put": "ok", "writer copy from shared": "ok",
            "writer copy from private": "AccessDenied", "writer create bucket": "AccessDenied", "writer delete": "ok", "wrong secret": "SignatureDoesNotMatch",
        ]
        for (name, code) in expected { #expect(results[name] as? String == code, "\(name): \(results[name] ?? "none")") }
        #expect(results["reader buckets"] as? [String] == ["shared"], "\(output)")

        let (listed, table) = try await ZonalBinary.run(
            ["objects", "keys", "list", "--topology", cluster.file, "--state-dir", cluster.stateDirectory], directory: cluster.directory,
            environment: cluster.environment)
        #expect(listed == 0 && table.contains(readerID) && table.contains("shared:read") && !table.contains(keys["READER_SECRET"]!), "\(table)")
        let (shown, buckets) = try await ZonalBinary.run(
            ["objects", "buckets", "--topology", cluster.file], directory: cluster.directory, environment: cluster.environment)
        #expect(shown == 0 && buckets.contains("inbox") && buckets.contains("never enabled"), "\(buckets)")
        let (dumped, _) = try await ZonalBinary.run(
            ["objects", "keys", "list", "--json", "--topology", cluster.file, "--state-dir", cluster.stateDirectory], directory: cluster.directory,
            environment: cluster.environment)
        #expect(dumped == 0)
        let (deleted, deleteOutput) = try await ZonalBinary.run(
            ["objects", "keys", "delete", readerID, "--topology", cluster.file, "--state-dir", cluster.stateDirectory], directory: cluster.directory,
            environment: cluster.environment)
        #expect(deleted == 0, "\(deleteOutput)")
        let refused = await poll(timeout: .seconds(5)) {
            (try? await cluster.run("python3", [script, cluster.endpoint("n3"), "after"], environment: keys))?.output.contains("InvalidAccessKeyId") ?? false
        }
        #expect(refused != nil, "the deleted key still works")
    }

    static let filler = """
        import boto3, hashlib, sys
        from botocore.config import Config
        from botocore.exceptions import ClientError
        s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="east", config=Config(retries={"max_attempts": 1}))
        s3.create_bucket(Bucket="full")
        acked, refusal = {}, None
        for i in range(40):
            body = bytes([i]) * 1_000_000
            try:
                s3.put_object(Bucket="full", Key=f"f{i}", Body=body)
                acked[f"f{i}"] = hashlib.sha256(body).hexdigest()
            except ClientError as error:
                refusal = (f"f{i}", error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"], hashlib.sha256(body).hexdigest())
                break
        intact = all(hashlib.sha256(s3.get_object(Bucket="full", Key=k)["Body"].read()).hexdigest() == d for k, d in acked.items())
        refused_state = "none"
        if refusal:
            try:
                got = hashlib.sha256(s3.get_object(Bucket="full", Key=refusal[0])["Body"].read()).hexdigest()
                refused_state = "whole" if got == refusal[3] else "torn"
            except ClientError as error:
                refused_state = error.response["Error"]["Code"]
        print(f"acked {len(acked)} intact {intact} refusal {refusal[1] if refusal else None} {refusal[2] if refusal else None} refused-object {refused_state}")
        """

    @Test("full disks on two of three zones: the write is refused with a clear S3 error, nothing torn is visible, every acknowledged object stays intact")
    func fullDisks() async throws {
        let mounts = Mounts()
        do {
            let cluster = try await ObjectStoreCluster { name, path in
                if name != "n3" { try await mounts.tmpfs(path, size: "6m") }
            }
            defer { Task { await cluster.stop() } }
            #expect(mounts.paths.count == 2)
            let (status, output) = try await cluster.python(Self.filler, [cluster.endpoint("n1")])
            #expect(status == 0, "\(output)")
            #expect(output.contains("intact True"), "\(output)")
            #expect(output.contains("refusal 507 XZonalInsufficientStorage"), "\(output)\n\(cluster.output("n1").suffix(2000))")
            #expect(!output.contains("torn"), "\(output)")
            let acked = Int(output.split(separator: " ").dropFirst().first ?? "") ?? 0
            #expect(acked >= 3, "\(output)")
            await cluster.stop()
        } catch {
            await mounts.removeAll()
            throw error
        }
        await mounts.removeAll()
    }

    /// Small file systems a test mounts (tmpfs, so a disk fills in a few megabytes) and always
    /// unmounts.
    final class Mounts: @unchecked Sendable {
        private(set) var paths: [String] = []

        func tmpfs(_ path: String, size: String) async throws {
            let mount = try ProcessFixture(
                executable: "/usr/bin/mount", arguments: ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path], outputPath: "\(path).mount.out")
            guard await mount.waitForExit(timeout: .seconds(10)) == 0 else { throw FixtureError("cannot mount a tmpfs on \(path)") }
            paths.append(path)
        }

        func removeAll() async {
            for path in paths {
                if let unmount = try? ProcessFixture(executable: "/usr/bin/umount", arguments: ["-l", path], outputPath: "\(path).umount.out") {
                    _ = await unmount.waitForExit(timeout: .seconds(10))
                }
            }
            paths = []
        }
    }

    static let hostile = """
        import boto3, http.client, sys, urllib.parse
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        host, port = sys.argv[1], int(sys.argv[2])
        credentials = boto3.Session().get_credentials()
        s3 = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="east")
        s3.create_bucket(Bucket="hostile")
        def send(method, path, body=b"", headers=None, raw_length=None):
            request = AWSRequest(method=method, url=f"http://{host}:{port}{path}", data=body, headers=headers or {})
            request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
            S3SigV4Auth(credentials, "s3", "east").add_auth(request)
            connection = http.client.HTTPConnection(host, port, timeout=10)
            connection.putrequest(method, path, skip_accept_encoding=True, skip_host=True)
            connection.putheader("Host", f"{host}:{port}")
            for name, value in request.headers.items():
                connection.putheader(name, value)
            connection.putheader("Content-Length", str(raw_length if raw_length is not None else len(body)))
            connection.endheaders()
            if body: connection.send(body)
            if raw_length is not None and raw_length > len(body):
                connection.sock.shutdown(1)
            try:
                response = connection.getresponse()
                return response.status, response.read().decode(errors="replace")
            except Exception as error:
                return 0, str(error)
        results = {}
        results["dotdot"] = send("PUT", "/hostile/a/../../etc/passwd", b"x")
        results["doubleslash"] = send("PUT", "/hostile/a//b", b"x")
        results["nul"] = send("PUT", "/hostile/a%00b", b"x")
        results["part"] = send("PUT", "/hostile/k?partNumber=10001&uploadId=" + "0" * 32, b"x")
        results["xml"] = send("POST", "/hostile?delete", b"<Delete><Object><Key>a</Key></Object>")
        results["doctype"] = send("POST", "/hostile?delete", b'<!DOCTYPE d [<!ENTITY e "x">]><Delete>&e;</Delete>')
        results["lying"] = send("PUT", "/hostile/short", b"only ten b", raw_length=1000)
        results["md5"] = send("PUT", "/hostile/md5", b"body", headers={"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="})
        for name, (status, body) in results.items():
            print(name, status, body[:300].replace("\\n", " "))
        missing = [k for k in ["short", "md5", "a/../../etc/passwd"] if "Contents" in s3.list_objects_v2(Bucket="hostile", Prefix=k)]
        print("visible", missing)
        """

    @Test(
        "hostile requests get S3's error and touch nothing: .. and // and NUL in keys, a part number out of range, malformed XML, a DOCTYPE, a Content-Length that lies, a wrong Content-MD5"
    )
    func hostileRequests() async throws {
        let cluster = try await ObjectStoreCluster()
        defer { Task { await cluster.stop() } }
        let (status, output) = try await cluster.python(Self.hostile, [cluster.nodes["n1"]!, "\(ObjectStoreCluster.s3Port)"])
        #expect(status == 0, "\(output)")
        let lines = Dictionary(
            uniqueKeysWithValues: output.split(separator: "\n").compactMap { line -> (String, String)? in
                let parts = line.split(separator: " ", maxSplits: 1)
                return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
            })
        for (name, code) in [
            ("dotdot", "400"), ("doubleslash", "400"), ("nul", "400"), ("part", "400"), ("xml", "400"), ("doctype", "400"), ("md5", "400"), ("lying", "400"),
        ] {
            #expect(lines[name]?.hasPrefix(code) == true, "\(name): \(lines[name] ?? "no answer")")
        }
        #expect(lines["dotdot"]?.contains("InvalidArgument") == true)
        #expect(lines["xml"]?.contains("MalformedXML") == true)
        #expect(lines["md5"]?.contains("BadDigest") == true)
        #expect(lines["lying"]?.contains("IncompleteBody") == true)
        #expect(lines["part"]?.contains("InvalidArgument") == true)
        #expect(lines["visible"] == "[]", "a refused upload left an object: \(output)")
        for name in cluster.nodes.keys {
            let escaped = FileManager.default.subpaths(atPath: cluster.stateDirectory)?.filter { $0.contains("passwd") } ?? []
            #expect(escaped.isEmpty, "\(name): \(escaped)")
        }
        #expect(await cluster.s3Answers("n1"), "the front end survived: \(cluster.output("n1").suffix(2000))")
    }

    /// The version of `key` that storage node `node` holds, asked on its data API with the
    /// admin token; nil when it has none or does not answer.
    func nodeVersion(_ cluster: ObjectStoreCluster, _ node: String, key: String, bucket: String = "faults", versionID: String? = nil) async -> String? {
        let hex = Array(key.utf8).map { String(format: "%02x", $0) }.joined()
        let version = versionID.map { "&version=\($0)" } ?? ""
        var request = HTTPClientRequest(
            url: "http://\(cluster.nodes[node]!):\(ObjectStoreCluster.storagePort)/v1/version?bucket=\(bucket)&key=\(hex)\(version)")
        request.headers.add(name: "Authorization", value: "Bearer \(cluster.token.secret)")
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)), response.status == .ok,
            let body = try? await response.body.collect(upTo: 1 << 20)
        else { return nil }
        return String(buffer: body)
    }
}
