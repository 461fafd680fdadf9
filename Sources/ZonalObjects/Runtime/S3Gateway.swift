import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import ZonalCore

/// The S3 front end: authenticates each request (Signature V4), finds its operation, and serves
/// it from the replicated objects and the bucket directory. Stateless: any number run side by
/// side, in every zone, behind a balancer.
public struct S3Gateway: HTTPResponder, Sendable {
    public typealias Context = BasicRequestContext

    let objects: ReplicatedObjects
    let buckets: BucketDirectory
    let uploads: MultipartUploads
    let authenticator: RequestAuthenticator
    let router: S3Router
    let keys: AccessKeys
    let maxObjectSize: Int64
    let logger: Logger

    public init(objects: ReplicatedObjects, buckets: BucketDirectory, plan: S3GatewayPlan, keys: AccessKeys, logger: Logger) {
        self.objects = objects
        self.buckets = buckets
        self.uploads = MultipartUploads(store: buckets.store, coordinator: buckets.coordinator)
        self.authenticator = RequestAuthenticator(region: plan.region)
        self.router = S3Router(domains: plan.spec.domains)
        self.keys = keys
        self.maxObjectSize = plan.spec.maxObjectSize
        self.logger = logger
    }

    public var region: String { authenticator.region }

    public func respond(to request: Request, context: Context) async throws -> Response {
        let requestID = String(UInt64.random(in: 0...UInt64.max), radix: 16, uppercase: true)
        let started = ContinuousClock.now
        let (operation, result) = await answer(request)
        var response: Response
        switch result {
        case .success(let served):
            response = served
        case .failure(let error):
            response = Self.errorResponse(error, resource: request.uri.path, requestID: requestID, head: request.method == .head)
            if [.internalError, .serviceUnavailable, .insufficientStorage].contains(error.code) {
                logger.warning("request failed", metadata: ["operation": "\(operation)", "error": "\(error)", "request_id": "\(requestID)"])
            }
        }
        response.headers[HTTPField.Name("x-amz-request-id")!] = requestID
        Counter(label: "zonal_s3_requests_total", dimensions: [("operation", operation), ("status", "\(response.status.code)")]).increment()
        Timer(label: "zonal_s3_request_seconds", dimensions: [("operation", operation)], preferredDisplayUnit: .seconds).recordNanoseconds(
            (ContinuousClock.now - started).nanoseconds)
        return response
    }

    /// The operation's name and its response, or the S3 error that refused it.
    private func answer(_ request: Request) async -> (String, Result<Response, S3Error>) {
        var name = "unknown"
        do throws(S3Error) {
            let s3 = try Self.s3Request(request)
            let identity: RequestAuthenticator.Authenticated
            var rights: KeyRights?
            do {
                identity = try authenticator.authenticate(s3, now: Date(), secret: keys.secret)
            } catch  where error.code == .invalidAccessKeyID {
                // A key made a moment ago on another machine: read it, then check once more.
                guard let id = authenticator.accessKeyID(of: s3), let record = await keys.lookUp(id) else { throw error }
                identity = try authenticator.authenticate(s3, now: Date()) { $0 == record.id ? keys.secret(of: record) : nil }
                rights = KeyRights(isRoot: false, grants: record.grants)
            }
            let operation = try router.route(s3)
            name = operation.metricName
            let allowed = rights ?? keys.rights(identity.accessKey)
            try allowed.authorize(operation)
            return (name, .success(try await serve(operation, s3, identity, allowed, body: request.body)))
        } catch {
            return (name, .failure(error))
        }
    }

    /// The request as the pure core sees it; the `Host` header is the request's authority.
    static func s3Request(_ request: Request) throws(S3Error) -> S3Request {
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(request.headers.count + 1)
        if let authority = request.head.authority { headers.append(("host", authority)) }
        for field in request.headers { headers.append((field.name.canonicalName, field.value)) }
        return try S3Request(method: request.method.rawValue, rawPath: request.uri.path, rawQuery: request.uri.query ?? "", headers: headers)
    }

    private func serve(
        _ operation: S3Operation, _ request: S3Request, _ identity: RequestAuthenticator.Authenticated, _ rights: KeyRights, body: RequestBody
    ) async throws(S3Error) -> Response {
        switch operation {
        case .listBuckets: return try await listBuckets(rights)
        case .createBucket(let bucket): return try await createBucket(bucket, request, identity, body: body)
        case .headBucket(let bucket): return try await headBucket(bucket)
        case .deleteBucket(let bucket): return try await deleteBucket(bucket)
        case .getBucketLocation(let bucket): return try await bucketLocation(bucket)
        case .getBucketVersioning(let bucket): return try await bucketVersioning(bucket)
        case .putBucketVersioning(let bucket): return try await putBucketVersioning(bucket, identity, body: body)
        case .listObjects(let bucket, let version): return try await listObjects(bucket, version, request, identity)
        case .listObjectVersions(let bucket): return try await listObjectVersions(bucket, request)
        case .deleteObjects(let bucket): return try await deleteObjects(bucket, request, identity, body: body)
        case .putObject(let address): return try await putObject(address, request, identity, body: body)
        case .copyObject(let address, let source): return try await copyObject(address, from: source, request)
        case .getObject(let address): return try await getObject(address, request, head: false)
        case .headObject(let address): return try await getObject(address, request, head: true)
        case .deleteObject(let address): return try await deleteObject(address, request, identity)
        case .getObjectTagging(let address): return try await getObjectTagging(address)
        case .putObjectTagging(let address):
            return try await setObjectTagging(address, ObjectTags.parse(document: try await smallBody(body, identity)).nilIfEmpty)
        case .deleteObjectTagging(let address): return try await setObjectTagging(address, nil)
        case .createMultipartUpload(let address): return try await createMultipartUpload(address, request)
        case .uploadPart(let address, let upload, let part): return try await uploadPart(address, upload: upload, part: part, request, identity, body: body)
        case .uploadPartCopy(let address, let upload, let part, let source):
            return try await uploadPartCopy(address, upload: upload, part: part, from: source, request)
        case .listParts(let address, let upload): return try await listParts(address, upload: upload, request)
        case .completeMultipartUpload(let address, let upload): return try await completeMultipartUpload(address, upload: upload, request, identity, body: body)
        case .abortMultipartUpload(let address, let upload): return try await abortMultipartUpload(address, upload: upload)
        case .listMultipartUploads(let bucket): return try await listMultipartUploads(bucket, request)
        }
    }

    /// Fails with `NoSuchBucket` unless `name` exists.
    func requireBucket(_ name: String) async throws(S3Error) -> BucketDirectory.Bucket {
        guard let bucket = try await buckets.bucket(name) else { throw S3Error(.noSuchBucket, "The specified bucket does not exist: \(name)") }
        return bucket
    }

    static func xml(_ document: S3XML, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/xml"], body: .init(byteBuffer: ByteBuffer(string: document.text)))
    }

    static func errorResponse(_ error: S3Error, resource: String, requestID: String, head: Bool) -> Response {
        let status = HTTPResponse.Status(code: error.status)
        guard !head, error.code != .notModified else { return Response(status: status) }
        let text = S3XML.error(error, resource: resource, requestID: requestID)
        return Response(status: status, headers: [.contentType: "application/xml"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A small body read whole (an XML document): at most ``S3Limits/xmlBodyBytes``, its
    /// signature and SHA-256 checked.
    func smallBody(_ body: RequestBody, _ identity: RequestAuthenticator.Authenticated) async throws(S3Error) -> [UInt8] {
        let payload = PayloadBody(body: body, payload: identity.payload)
        var bytes: [UInt8] = []
        do {
            for try await buffer in payload {
                guard bytes.count + buffer.readableBytes <= S3Limits.xmlBodyBytes else {
                    throw S3Error(.entityTooLarge, "the request document is larger than \(S3Limits.xmlBodyBytes) bytes")
                }
                bytes += buffer.readableBytesView
            }
        } catch let error as S3Error {
            throw error
        } catch {
            throw S3Error(.incompleteBody, "the request body broke off")
        }
        if case .sha256(let expected) = identity.payload, SHA256Hex.of(bytes) != expected { throw S3Error(.xAmzContentSHA256Mismatch) }
        return bytes
    }
}
