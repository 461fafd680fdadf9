import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import Testing
import ZonalTesting

@testable import ZonalBackup

/// Repositories in a real S3 endpoint (moto's server on loopback), through the same code paths
/// `zonal backup --repo s3:…` takes.
@Suite("Backup repository in S3", .serialized)
struct S3RepositoryTests {
    static let parameters = RepositoryParameters(id: "s3-test", chunker: .init(minimum: 16 << 10, average: 64 << 10, maximum: 256 << 10), packSize: 1 << 20)

    func store(_ location: String) throws -> any RepositoryStore {
        try RepositoryLocation.store(location, environment: S3ServerFixture.environment)
    }

    func makeTree(_ path: String) throws {
        try write(randomBytes(2 << 20, seed: 21), to: "\(path)/big.bin")
        try write(randomBytes(2 << 20, seed: 21), to: "\(path)/copy of big.bin")
        try write(Array(repeating: UInt8(ascii: "z"), count: 300_000), to: "\(path)/docs/zeta.txt")
        try write([], to: "\(path)/empty")
        try FileManager.default.createSymbolicLink(atPath: "\(path)/link", withDestinationPath: "docs/zeta.txt")
    }

    @Test("a repository in S3 backs up, restores byte for byte, checks clean, and refuses to be created twice")
    func roundTrip() async throws {
        let server = try await S3ServerFixture()
        let local = try TemporaryDirectory(prefix: "zonal-s3-backup")
        defer { local.remove() }
        let location = server.repositoryLocation()
        let created = try await Repository.initialize(
            in: try store(location), password: TestRepository.password, parameters: Self.parameters, scryptRounds: 1 << 10)
        #expect(created.store.location == location)
        let source = local.file("source")
        try makeTree(source)

        let first = try await BackupRunner(repository: try Repository.open(try store(location), password: TestRepository.password), parallelism: 1).run(paths: [
            source
        ]).snapshot
        #expect(first.summary.files == 4)
        #expect(first.summary.newBytes < 3 << 20, "the duplicate file is stored once (\(first.summary.newBytes) new bytes)")
        let again = try await BackupRunner(repository: try Repository.open(try store(location), password: TestRepository.password), parallelism: 1).run(paths: [
            source
        ]).snapshot
        #expect(again.summary.newBlobs == 0)

        let repository = try await Repository.open(try store(location), password: TestRepository.password)
        await #expect(try repository.snapshots().map(\.id) == [first.id, again.id])
        _ = try await Restorer(repository: repository, parallelism: 2).restore(again, into: local.file("restored"))
        for file in ["big.bin", "copy of big.bin", "docs/zeta.txt", "empty"] {
            #expect(FileManager.default.contentsEqual(atPath: "\(source)/\(file)", andPath: local.file("restored/source/\(file)")), "\(file)")
        }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: local.file("restored/source/link")) == "docs/zeta.txt")
        let report = try await Checker(repository: repository).check(readData: true)
        #expect(report.isClean && report.intactSnapshots.count == 2, "\(report.errors)")
        await #expect(try repository.store.list("locks").isEmpty, "backups release their locks")

        await #expect(throws: BackupError.alreadyExists(location)) { try await Repository.initialize(in: try store(location), password: "x") }
        let parent = String(location.dropLast("/repo".count))
        await #expect(throws: BackupError.invalid("\(parent) is not empty; a repository needs a place of its own")) {
            try await Repository.initialize(in: try store(parent), password: "x")
        }
        await #expect(throws: BackupError.notARepository("\(parent)/elsewhere")) { try await Repository.open(try store("\(parent)/elsewhere"), password: "x") }
        await #expect(throws: BackupError.wrongPassword) { try await Repository.open(try store(location), password: "guess") }
        await server.stop()
    }

    @Test("listings longer than one page follow S3's continuation tokens")
    func pagedListing() async throws {
        let server = try await S3ServerFixture()
        let location = try #require(try S3Location(parsing: server.repositoryLocation()))
        var store = S3Store(location: location, credentials: try S3Credentials(environment: S3ServerFixture.environment), region: "us-east-1")
        try await store.prepare()
        let names = (0..<7).map { "data/\(String(format: "%02x", $0 * 37))/pack-\($0)" }
        for (index, name) in names.enumerated() { try await store.write(name, Array(repeating: UInt8(index), count: index * 10)) }
        try await store.write("config", [1])
        store.pageSize = 2
        let listed = try await store.list("data")
        #expect(listed.map { "data/\($0.name)" } == names.sorted())
        #expect(listed.map(\.size) == names.sorted().map { Int64(Int($0.suffix(1))! * 10) })
        await #expect(try store.read("data/25/pack-1", offset: 3, length: 4) == [1, 1, 1, 1])
        await #expect(throws: BackupError.corrupt("data/25/pack-1 in \(location) ends before byte 14")) {
            try await store.read("data/25/pack-1", offset: 4, length: 10)
        }
        try await store.remove("data/25/pack-1")
        try await store.remove("data/25/pack-1")
        let packGone = try await !store.exists("data/25/pack-1")
        let configKept = try await store.exists("config")
        #expect(packGone && configKept)
        await #expect(try store.list("data").count == 6)
        await server.stop()
    }

    @Test("an off-site copy into S3 restores; a flipped byte there is reported by check and other snapshots restore; prune frees space")
    func offsiteCopy() async throws {
        let server = try await S3ServerFixture()
        let local = try await TestRepository()
        defer { local.directory.remove() }
        try write(randomBytes(600_000, seed: 31), to: local.directory.file("one/a.bin"))
        let kept = try await local.backUp(local.directory.file("one"))
        try write(randomBytes(600_000, seed: 32), to: local.directory.file("two/b.bin"))
        let damaged = try await local.backUp(local.directory.file("two"))

        let location = server.repositoryLocation(prefix: "offsite/east")
        try await Repository.initialize(in: try store(location), password: "offsite", parameters: Self.parameters, scryptRounds: 1 << 10)
        let offsite = { () async throws -> Repository in try await Repository.open(try store(location), password: "offsite") }
        let copies = try await Copier(source: try local.open(), target: try offsite()).copy([kept])
        #expect(copies.count == 1)
        let packsOfKept = try await offsite().indexedPacks
        let copies2 = try await Copier(source: try local.open(), target: try offsite()).copy([kept, damaged])
        #expect(copies2.count == 1 && copies2[0].original == damaged.id, "the snapshot copied before is skipped")
        await #expect(try Checker(repository: try offsite()).check(readData: true).isClean)

        let pack = try await #require(try offsite().indexedPacks.subtracting(packsOfKept).first)
        let target = try store(location)
        var bytes = try await target.read(Repository.packName(pack))
        bytes[500] ^= 0x01
        try await target.write(Repository.packName(pack), bytes)
        let report = try await Checker(repository: try offsite()).check(readData: true)
        #expect(report.errors.contains { $0.contains("snapshot \(copies2[0].id.prefix(12))") && $0.contains("b.bin") }, "\(report.errors)")
        #expect(report.intactSnapshots == [copies[0].id])
        _ = try await Restorer(repository: try offsite(), parallelism: 1).restore(copies[0], into: local.directory.file("restored"))
        #expect(FileManager.default.contentsEqual(atPath: local.directory.file("one/a.bin"), andPath: local.directory.file("restored/one/a.bin")))

        try await offsite().forget(copies2[0].id)
        let pruned = try await Pruner(repository: try offsite()).prune()
        #expect(pruned.bytesFreed > 500_000 && pruned.packsDeleted + pruned.packsRewritten >= 1, "\(pruned)")
        await #expect(try Checker(repository: try offsite()).check(readData: true).isClean)
        await server.stop()
    }

    @Test("a server that checks signatures (botocore's, inside moto) accepts every kind of request, bodies and ranges included, and refuses a wrong secret")
    func verifiedSignatures() async throws {
        let server = try await S3ServerFixture(unauthenticatedRequests: 3)
        let keys = try await Self.createAccessKey(on: server)
        // At the bucket's root: moto checks a listing's signature against its query decoded
        // (`prefix=data/` where the client signed `prefix=data%2F`, as AWS requires), so boto3's
        // own listings of a prefix fail there too; a root listing has no slash.
        let location = try #require(try S3Location(parsing: "s3:\(server.endpoint)/zonal-signed"))
        let store = S3Store(location: location, credentials: keys, region: "us-east-1")
        try await store.prepare()
        await #expect(try store.isEmpty())
        let bytes = randomBytes(300_000, seed: 41)
        try await store.write("data/ab/pack", bytes)
        let written = try await store.exists("data/ab/pack")
        let other = try await store.exists("data/ab/other")
        #expect(written && !other)
        await #expect(try store.read("data/ab/pack") == bytes)
        await #expect(try store.read("data/ab/pack", offset: 1000, length: 5000) == Array(bytes[1000..<6000]))
        await #expect(try !store.isEmpty())
        try await store.remove("data/ab/pack")
        await #expect(try store.isEmpty())

        var forged = keys
        forged.secretAccessKey = "not-the-secret"
        await #expect {
            try await S3Store(location: location, credentials: forged, region: "us-east-1").write("config", [1, 2, 3])
        } throws: { error in
            "\(error)".contains("SignatureDoesNotMatch")
        }
        await #expect(try !store.exists("config"), "the forged write stored nothing")
        await server.stop()
    }

    /// An IAM user allowed everything, and its keys, made with the server's first (unchecked) requests.
    static func createAccessKey(on server: S3ServerFixture) async throws -> S3Credentials {
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
        var answer = ""
        for action in [
            ["Action": "CreateUser"],
            ["Action": "PutUserPolicy", "PolicyName": "everything", "PolicyDocument": policy],
            ["Action": "CreateAccessKey"],
        ] {
            let form = S3Signer.encodeQuery(action.merging(["UserName": "zonal", "Version": "2010-05-08"]) { $1 })
            let signer = S3Signer(credentials: S3Credentials(accessKeyID: "setup", secretAccessKey: "setup"), region: "us-east-1", service: "iam")
            let headers = signer.sign(
                method: "POST", path: "/", query: [:],
                headers: ["host": "\(server.address):\(server.port)", "content-type": "application/x-www-form-urlencoded"],
                payloadHash: S3Signer.payloadHash(Array(form.utf8)), date: Date())
            var request = HTTPClientRequest(url: server.endpoint + "/")
            request.method = .POST
            request.headers = .init(headers.map { ($0.key, $0.value) })
            request.body = .bytes(ByteBuffer(string: form))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            answer = String(buffer: try await response.body.collect(upTo: 1 << 20))
            try #require(response.status == .ok, "\(action["Action"]!): \(answer)")
        }
        let id = try #require(XMLText.first("AccessKeyId", in: answer))
        let secret = try #require(XMLText.first("SecretAccessKey", in: answer))
        return S3Credentials(accessKeyID: id, secretAccessKey: secret)
    }

    @Test("a file larger than a transfer piece goes up in parts and comes back whole, to S3 and to a directory alike")
    func largeFiles() async throws {
        let local = try TemporaryDirectory(prefix: "zonal-s3-large")
        defer { local.remove() }
        let piece = LocalStore.transferPiece
        let contents = randomBytes(piece + piece / 4, seed: 31)
        let source = local.file("large.bin")
        try write(contents, to: source)
        let server = try await S3ServerFixture()
        let s3 = try store(server.repositoryLocation())
        try await s3.prepare()
        for target in [s3, LocalStore(root: local.file("directory")) as any RepositoryStore] {
            try await target.upload("base/large.bin", fromFile: source)
            #expect(try await target.size("base/large.bin") == Int64(contents.count), "\(target.location)")
            #expect(try await target.size("base/absent") == nil)
            let back = local.file("back-\(UUID().uuidString.prefix(6)).bin")
            try await target.download("base/large.bin", toFile: back)
            #expect(FileManager.default.contentsEqual(atPath: source, andPath: back), "\(target.location)")
            try await target.removeAll(under: "base")
            #expect(try await target.list("base").isEmpty)
        }
        #expect(try FilePieces.sha256(of: source) == SHA256.hash(data: contents).hex)
        await server.stop()
    }

    @Test("an endpoint that does not answer is named in the error, after a few retries")
    func unreachable() async throws {
        let location = "s3:http://127.0.0.1:1/zonal-nowhere/repo"
        await #expect {
            try await Repository.open(try store(location), password: "x")
        } throws: { error in
            "\(error)".contains("cannot reach S3 at http://127.0.0.1:1")
        }
    }
}
