/// An S3 error: the code clients branch on, the HTTP status it travels with and a message for
/// people. Every refusal of the front end is one of these, rendered as S3's XML error document.
public struct S3Error: Error, Sendable, Hashable, CustomStringConvertible {
    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String? = nil) {
        self.code = code
        self.message = message ?? code.defaultMessage
    }

    public var status: Int { code.status }
    public var description: String { "\(code.rawValue): \(message)" }

    /// The codes of the S3 API that Zonal answers with, each with its status.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        case accessDenied = "AccessDenied"
        case authorizationHeaderMalformed = "AuthorizationHeaderMalformed"
        case authorizationQueryParametersError = "AuthorizationQueryParametersError"
        case badDigest = "BadDigest"
        case bucketAlreadyOwnedByYou = "BucketAlreadyOwnedByYou"
        case bucketNotEmpty = "BucketNotEmpty"
        case entityTooLarge = "EntityTooLarge"
        case entityTooSmall = "EntityTooSmall"
        case expiredToken = "ExpiredToken"
        case incompleteBody = "IncompleteBody"
        case internalError = "InternalError"
        case invalidAccessKeyID = "InvalidAccessKeyId"
        case invalidArgument = "InvalidArgument"
        case invalidBucketName = "InvalidBucketName"
        case invalidDigest = "InvalidDigest"
        case invalidLocationConstraint = "InvalidLocationConstraint"
        case invalidPart = "InvalidPart"
        case invalidPartOrder = "InvalidPartOrder"
        case invalidPartNumber = "InvalidPartNumber"
        case invalidRange = "InvalidRange"
        case invalidRequest = "InvalidRequest"
        case invalidTag = "InvalidTag"
        case keyTooLong = "KeyTooLongError"
        case malformedXML = "MalformedXML"
        case methodNotAllowed = "MethodNotAllowed"
        case missingContentLength = "MissingContentLength"
        case missingSecurityHeader = "MissingSecurityHeader"
        case noSuchBucket = "NoSuchBucket"
        case noSuchKey = "NoSuchKey"
        case noSuchUpload = "NoSuchUpload"
        case noSuchVersion = "NoSuchVersion"
        case notImplemented = "NotImplemented"
        case notModified = "NotModified"
        case operationAborted = "OperationAborted"
        case preconditionFailed = "PreconditionFailed"
        case requestHeaderSectionTooLarge = "RequestHeaderSectionTooLarge"
        case requestTimeTooSkewed = "RequestTimeTooSkewed"
        case serviceUnavailable = "ServiceUnavailable"
        case signatureDoesNotMatch = "SignatureDoesNotMatch"
        case slowDown = "SlowDown"
        case xAmzContentSHA256Mismatch = "XAmzContentSHA256Mismatch"
        case insufficientStorage = "XZonalInsufficientStorage"

        public var status: Int {
            switch self {
            case .accessDenied, .invalidAccessKeyID, .signatureDoesNotMatch, .requestTimeTooSkewed, .expiredToken: 403
            case .bucketAlreadyOwnedByYou, .bucketNotEmpty, .operationAborted: 409
            case .noSuchBucket, .noSuchKey, .noSuchUpload, .noSuchVersion: 404
            case .methodNotAllowed: 405
            case .missingContentLength: 411
            case .preconditionFailed: 412
            case .invalidRange, .invalidPartNumber: 416
            case .notModified: 304
            case .internalError: 500
            case .notImplemented: 501
            case .serviceUnavailable, .slowDown: 503
            case .insufficientStorage: 507
            default: 400
            }
        }

        var defaultMessage: String {
            switch self {
            case .accessDenied: "Access Denied"
            case .badDigest: "The Content-MD5 or checksum you specified did not match what we received."
            case .bucketAlreadyOwnedByYou: "Your previous request to create the named bucket succeeded and you already own it."
            case .bucketNotEmpty: "The bucket you tried to delete is not empty."
            case .entityTooLarge: "Your proposed upload exceeds the maximum allowed object size."
            case .entityTooSmall: "Your proposed upload is smaller than the minimum allowed object size."
            case .incompleteBody: "You did not provide the number of bytes specified by the Content-Length HTTP header."
            case .internalError: "We encountered an internal error. Please try again."
            case .invalidAccessKeyID: "The AWS Access Key Id you provided does not exist in our records."
            case .invalidBucketName: "The specified bucket is not valid."
            case .invalidPart: "One or more of the specified parts could not be found."
            case .invalidPartOrder: "The list of parts was not in ascending order."
            case .invalidRange: "The requested range is not satisfiable."
            case .invalidPartNumber: "The requested partnumber is not satisfiable."
            case .keyTooLong: "Your key is too long."
            case .invalidTag: "The tag provided was not a valid tag."
            case .malformedXML: "The XML you provided was not well-formed or did not validate against our published schema."
            case .methodNotAllowed: "The specified method is not allowed against this resource."
            case .missingContentLength: "You must provide the Content-Length HTTP header."
            case .noSuchBucket: "The specified bucket does not exist."
            case .noSuchKey: "The specified key does not exist."
            case .noSuchUpload: "The specified multipart upload does not exist."
            case .noSuchVersion: "The specified version does not exist."
            case .notImplemented: "A header or query you provided implies functionality that is not implemented."
            case .preconditionFailed: "At least one of the preconditions you specified did not hold."
            case .requestTimeTooSkewed: "The difference between the request time and the server's time is too large."
            case .serviceUnavailable: "Too few storage nodes answered; try again."
            case .signatureDoesNotMatch: "The request signature we calculated does not match the signature you provided."
            case .insufficientStorage: "The storage nodes have no room left for this object."
            default: rawValue
            }
        }
    }
}
