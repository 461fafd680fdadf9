import Foundation

/// A repository in an S3 bucket under a key prefix. An S3 PUT makes an object appear whole or
/// not at all, and repository files are never rewritten, so the store keeps the same crash
/// guarantees as a directory; the payload's SHA-256 travels signed with every upload, so a
/// server that checks it (AWS, MinIO, Zonal's object storage) refuses a body damaged on the way.
public struct S3Store: RepositoryStore {
    let client: S3Client
    /// Keys asked for per listing request (S3 answers at most 1000).
    var pageSize = 1000

    public init(location: S3Location, credentials: S3Credentials, region: String) {
        client = S3Client(location: location, signer: S3Signer(credentials: credentials, region: region))
    }

    public var location: String { client.location.description }

    private func key(_ name: String) -> String { client.location.key(name) }

    public func isEmpty() async throws(BackupError) -> Bool {
        let response = try await client.send(.GET, key: nil, query: ["list-type": "2", "max-keys": "1", "prefix": listingPrefix("")])
        if response.status == 404 { return true }
        guard response.status == 200 else { throw client.failure(response, "listing") }
        return XMLText.first("KeyCount", in: response.text) == "0"
    }

    /// Creates the bucket when it does not exist yet.
    public func prepare() async throws(BackupError) {
        let head = try await client.send(.HEAD, key: nil)
        guard head.status == 404 else {
            guard head.status == 200 else { throw client.failure(head, "bucket \(client.location.bucket)") }
            return
        }
        let region = client.signer.region
        let body = region == "us-east-1" ? "" : "<CreateBucketConfiguration><LocationConstraint>\(region)</LocationConstraint></CreateBucketConfiguration>"
        let created = try await client.send(.PUT, key: nil, body: Array(body.utf8))
        guard created.status == 200 else { throw client.failure(created, "creating bucket \(client.location.bucket)") }
    }

    public func exists(_ name: String) async throws(BackupError) -> Bool {
        let response = try await client.send(.HEAD, key: key(name))
        switch response.status {
        case 200: return true
        case 404: return false
        default: throw client.failure(response, "looking up \(name)")
        }
    }

    public func write(_ name: String, _ bytes: [UInt8]) async throws(BackupError) {
        let response = try await client.send(.PUT, key: key(name), headers: ["content-type": "application/octet-stream"], body: bytes)
        guard response.status == 200 else { throw client.failure(response, "writing \(name)") }
    }

    public func read(_ name: String) async throws(BackupError) -> [UInt8] {
        let response = try await client.send(.GET, key: key(name))
        guard response.status == 200 else { throw client.failure(response, "reading \(name)") }
        return response.body
    }

    public func read(_ name: String, offset: Int, length: Int) async throws(BackupError) -> [UInt8] {
        guard length > 0 else { return [] }
        let response = try await client.send(.GET, key: key(name), headers: ["range": "bytes=\(offset)-\(offset + length - 1)"])
        guard response.status == 206 || response.status == 200 else { throw client.failure(response, "reading \(name)") }
        // A server that ignores Range sends the whole object.
        let bytes = response.status == 200 && response.body.count > length ? Array(response.body.dropFirst(offset).prefix(length)) : response.body
        guard bytes.count == length else { throw .corrupt("\(name) in \(location) ends before byte \(offset + length)") }
        return bytes
    }

    public func list(_ name: String) async throws(BackupError) -> [StoredFile] {
        let prefix = listingPrefix(name)
        var files: [StoredFile] = []
        var token: String?
        repeat {
            var query = ["list-type": "2", "max-keys": String(pageSize), "prefix": prefix]
            query["continuation-token"] = token
            let response = try await client.send(.GET, key: nil, query: query)
            guard response.status == 200 else { throw client.failure(response, "listing \(name)") }
            let text = response.text
            for entry in XMLText.blocks("Contents", in: text[...]) {
                guard let key = XMLText.all("Key", in: entry).first, key.hasPrefix(prefix) else { continue }
                files.append(StoredFile(name: String(key.dropFirst(prefix.count)), size: Int64(XMLText.all("Size", in: entry).first ?? "") ?? 0))
            }
            token = XMLText.first("IsTruncated", in: text) == "true" ? XMLText.first("NextContinuationToken", in: text) : nil
        } while token != nil
        return files.sorted { $0.name < $1.name }
    }

    public func size(_ name: String) async throws(BackupError) -> Int64? {
        let response = try await client.send(.HEAD, key: key(name))
        switch response.status {
        case 200:
            guard let length = response.headers["content-length"].flatMap({ Int64($0) }), length >= 0 else {
                throw .io("S3 answered HEAD \(name) in \(location) without a valid Content-Length")
            }
            return length
        case 404: return nil
        default: throw client.failure(response, "looking up \(name)")
        }
    }

    /// One PUT for a file of at most one piece; a multipart upload of pieces otherwise, aborted
    /// when any part fails, so the object appears whole or not at all either way.
    public func upload(_ name: String, fromFile path: String) async throws(BackupError) {
        let pieces = try FilePieces(path: path)
        defer { pieces.close() }
        let piece = Self.transferPiece
        guard pieces.size > Int64(piece) else { return try await write(name, try pieces.next(piece)) }
        let created = try await client.send(.POST, key: key(name), query: ["uploads": ""], headers: ["content-type": "application/octet-stream"])
        guard created.status == 200, let uploadID = XMLText.first("UploadId", in: created.text) else {
            throw client.failure(created, "starting the upload of \(name)")
        }
        do throws(BackupError) {
            var parts: [String] = []
            while case let bytes = try pieces.next(piece), !bytes.isEmpty {
                let number = parts.count + 1
                let response = try await client.send(.PUT, key: key(name), query: ["partNumber": String(number), "uploadId": uploadID], body: bytes)
                guard response.status == 200, let etag = response.headers["etag"] else { throw client.failure(response, "uploading part \(number) of \(name)") }
                parts.append("<Part><PartNumber>\(number)</PartNumber><ETag>\(XMLText.escape(etag))</ETag></Part>")
            }
            let body = "<CompleteMultipartUpload>\(parts.joined())</CompleteMultipartUpload>"
            let completed = try await client.send(.POST, key: key(name), query: ["uploadId": uploadID], body: Array(body.utf8))
            // S3 may report a failed completion inside a 200 answer.
            guard completed.status == 200, XMLText.first("Code", in: completed.text) == nil else {
                throw client.failure(completed, "completing the upload of \(name)")
            }
        } catch {
            _ = try? await client.send(.DELETE, key: key(name), query: ["uploadId": uploadID])
            throw error
        }
    }

    public func remove(_ name: String) async throws(BackupError) {
        let response = try await client.send(.DELETE, key: key(name))
        guard [200, 204, 404].contains(response.status) else { throw client.failure(response, "removing \(name)") }
    }

    public func removeAll(under name: String) async throws(BackupError) {
        for file in try await list(name) { try await remove("\(name)/\(file.name)") }
    }

    /// An S3 object appears whole or not at all: a crashed upload leaves nothing to clean.
    public func removeTemporaries(under name: String) async throws(BackupError) -> (count: Int, bytes: Int64) {
        (0, 0)
    }

    /// The key prefix of everything under directory `name` ("" for the whole repository).
    private func listingPrefix(_ name: String) -> String {
        let base = key(name)
        return base.isEmpty ? "" : "\(base)/"
    }
}
