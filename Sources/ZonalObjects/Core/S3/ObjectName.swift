/// The names S3 allows, checked before a name reaches the index or a log line. Keys never name
/// files (replicas are stored under digests), yet a key with `.`/`..` segments, an empty
/// segment (`//`), NUL or another control byte is refused: such keys mean something else in
/// every tool that maps keys to paths (rclone, s3fs, `aws s3 sync`).
public enum ObjectName {
    /// A bucket name by S3's rules: 3 to 63 of `a-z 0-9 . -`, a letter or digit at each end, no
    /// `..`, not an IPv4 address.
    public static func validateBucket(_ name: String) throws(S3Error) {
        let bytes = Array(name.utf8)
        let allowed = bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
        guard (3...63).contains(bytes.count), allowed, isLowerAlphanumeric(bytes.first!), isLowerAlphanumeric(bytes.last!),
            !name.contains(".."), !name.contains(".-"), !name.contains("-."), !looksLikeIPv4(name)
        else {
            throw S3Error(
                .invalidBucketName, "The specified bucket is not valid: 3 to 63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit"
            )
        }
    }

    /// A key: 1 to 1,024 bytes of UTF-8 without control characters, whose `/`-separated
    /// segments are neither empty (but the last: `dir/` markers) nor `.` or `..`.
    public static func validateKey(_ bytes: [UInt8]) throws(S3Error) -> String {
        guard !bytes.isEmpty else { throw S3Error(.invalidArgument, "the object key is empty") }
        guard bytes.count <= S3Limits.keyBytes else { throw S3Error(.keyTooLong, "Your key is too long: \(bytes.count) bytes, at most \(S3Limits.keyBytes)") }
        guard let key = String(validating: bytes, as: UTF8.self) else { throw S3Error(.invalidArgument, "the object key is not UTF-8") }
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw S3Error(.invalidArgument, "the object key holds a control character (NUL, a line break or another below 0x20)")
        }
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        for (index, segment) in segments.enumerated() {
            if segment == "." || segment == ".." {
                throw S3Error(.invalidArgument, "the object key holds a `\(segment)` segment, which tools that map keys to paths would resolve")
            }
            if segment.isEmpty && index < segments.count - 1 {
                throw S3Error(.invalidArgument, "the object key holds an empty segment (`//` or a leading `/`)")
            }
        }
        return key
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func looksLikeIPv4(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) }
    }
}
