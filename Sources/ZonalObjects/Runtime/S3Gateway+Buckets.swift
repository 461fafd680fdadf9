import Foundation
import HTTPTypes
import Hummingbird

/// Bucket operations: list, create, head, delete-if-empty, location and versioning state.
extension S3Gateway {
    func listBuckets(_ identity: RequestAuthenticator.Authenticated) async throws(S3Error) -> Response {
        let all = try await buckets.all().sorted { $0.name < $1.name }
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

    func deleteBucket(_ name: String) async throws(S3Error) -> Response {
        _ = try await requireBucket(name)
        var page = ListingPage(prefix: "", delimiter: nil, maxKeys: 1, startAfter: nil)
        try await fill(&page, bucket: name, from: [])
        guard page.contents.isEmpty else { throw S3Error(.bucketNotEmpty) }
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
        _ = try await requireBucket(name)
        var xml = S3XML()
        xml.element("VersioningConfiguration", root: true) { _ in }
        return Self.xml(xml)
    }

    func owner(_ xml: inout S3XML) {
        xml.element("Owner") { xml in
            xml.value("ID", keys.ownerID)
            xml.value("DisplayName", keys.ownerID)
        }
    }
}
