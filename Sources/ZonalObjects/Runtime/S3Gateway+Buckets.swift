import Foundation
import HTTPTypes
import Hummingbird

/// Bucket operations: list, create, head, delete-if-empty, location and versioning state.
extension S3Gateway {
    /// ListBuckets: the buckets the key may read.
    func listBuckets(_ rights: KeyRights) async throws(S3Error) -> Response {
        let all = try await buckets.all().filter { rights.canRead($0.name) }.sorted { $0.name < $1.name }
        var xml = S3XML()
        xml.element("ListAllMyBucketsResult", root: true) { xml in
            owner(&xml)
            xml.element("Buckets") { xml in
                for bucket in all {
                    xml.element("Bucket") { xml in
                        xml.value("Name", bucket.name)
                        xml.value("CreationDate", date: bucket.created)
                    }
                }
            }
        }
        return Self.xml(xml)
    }

    func createBucket(_ name: String, _ request: S3Request, _ identity: RequestAuthenticator.Authenticated, body: RequestBody) async throws(S3Error) -> Response
    {
        let document = try await smallBody(body, identity)
        if !document.isEmpty {
            let configuration = try XMLElementTree.parse(document)
            if let constraint = configuration.child("LocationConstraint")?.text, !constraint.isEmpty, constraint != region {
                throw S3Error(.invalidLocationConstraint, "this store is region \(region); the bucket cannot be created in \(constraint)")
            }
        }
        try await buckets.create(name, region: region, at: Date())
        return Response(status: .ok, headers: [.location: "/\(name)"])
    }

    func headBucket(_ name: String) async throws(S3Error) -> Response {
        let bucket = try await requireBucket(name)
        return Response(status: .ok, headers: [HTTPField.Name("x-amz-bucket-region")!: bucket.region])
    }

    /// DeleteBucket, only when no object is in it: none listed, and in a bucket with versioning
    /// no earlier version either (delete markers alone do not count).
    func deleteBucket(_ name: String) async throws(S3Error) -> Response {
        let bucket = try await requireBucket(name)
        var page = ListingPage(prefix: "", delimiter: nil, maxKeys: 1, startAfter: nil)
        try await fill(&page, bucket: name, from: [])
        guard page.contents.isEmpty else { throw S3Error(.bucketNotEmpty) }
        var cursor: ListingMerge.Position?
        while bucket.versioning != nil {
            let round = try await objects.versionsRound(bucket: name, prefix: [], after: cursor, limit: S3Limits.listPage)
            guard round.versions.allSatisfy(\.isDeleteMarker) else {
                throw S3Error(.bucketNotEmpty, "The bucket you tried to delete holds earlier versions of objects; delete them first.")
            }
            guard let resume = round.resumeAfter else { break }
            cursor = resume
        }
        try await buckets.delete(name)
        await objects.removeBucket(name)
        return Response(status: .noContent)
    }

    func bucketLocation(_ name: String) async throws(S3Error) -> Response {
        let bucket = try await requireBucket(name)
        var xml = S3XML()
        xml.element("LocationConstraint", root: true) { xml in xml.text += S3XML.escape(bucket.region) }
        return Self.xml(xml)
    }

    func bucketVersioning(_ name: String) async throws(S3Error) -> Response {
        let bucket = try await requireBucket(name)
        var xml = S3XML()
        xml.element("VersioningConfiguration", root: true) { xml in
            if let versioning = bucket.versioning { xml.value("Status", versioning.rawValue) }
        }
        return Self.xml(xml)
    }

    /// PutBucketVersioning: `Enabled` or `Suspended`. MFA delete is not offered.
    func putBucketVersioning(_ name: String, _ identity: RequestAuthenticator.Authenticated, body: RequestBody) async throws(S3Error) -> Response {
        _ = try await requireBucket(name)
        let document = try XMLElementTree.parse(try await smallBody(body, identity))
        guard document.localName == "VersioningConfiguration" else {
            throw S3Error(.malformedXML, "the document's root element must be VersioningConfiguration")
        }
        if document.child("MfaDelete")?.text == "Enabled" { throw S3Error(.notImplemented, "MFA delete is not implemented by this store") }
        guard let status = document.child("Status")?.text, let versioning = BucketDirectory.Versioning(rawValue: status) else {
            throw S3Error(.malformedXML, "Status must be Enabled or Suspended")
        }
        _ = try await buckets.setVersioning(name, to: versioning)
        return Response(status: .ok)
    }

    func owner(_ xml: inout S3XML) {
        xml.element("Owner") { xml in
            xml.value("ID", keys.ownerID)
            xml.value("DisplayName", keys.ownerID)
        }
    }
}
