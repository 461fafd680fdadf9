/// An object's tags as S3 has them: at most 10, each key 1 to 128 characters and each value up
/// to 256, keys unique; from the `x-amz-tagging` header (a URL-encoded query) or a `Tagging`
/// document, and back to that document.
public enum ObjectTags {
    public static let maximumCount = 10
    public static let maximumKeyLength = 128
    public static let maximumValueLength = 256

    /// The tags of an `x-amz-tagging` header: `k1=v1&k2=v2`, percent-encoded.
    public static func parse(header: String) throws(S3Error) -> [String: String] {
        var pairs: [(String, String)] = []
        for item in header.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = PercentEncoding.decodeText(parts[0]), let value = parts.count > 1 ? PercentEncoding.decodeText(parts[1]) : "" else {
                throw S3Error(.invalidArgument, "x-amz-tagging holds a broken %-escape or bytes that are not UTF-8")
            }
            pairs.append((key, value))
            guard pairs.count <= maximumCount else { break }
        }
        return try validated(pairs)
    }

    /// The tags of a `Tagging` document (PutObjectTagging).
    public static func parse(document bytes: [UInt8]) throws(S3Error) -> [String: String] {
        let root = try XMLElementTree.parse(bytes)
        guard root.localName == "Tagging", let set = root.child("TagSet") else {
            throw S3Error(.malformedXML, "a tagging document is <Tagging><TagSet><Tag><Key>…</Key><Value>…</Value></Tag>…</TagSet></Tagging>")
        }
        var pairs: [(String, String)] = []
        for tag in set.children("Tag") {
            guard let key = tag.child("Key")?.text else { throw S3Error(.malformedXML, "a Tag without a Key") }
            pairs.append((key, tag.child("Value")?.text ?? ""))
            guard pairs.count <= maximumCount else { break }
        }
        return try validated(pairs)
    }

    /// The `Tagging` document of GetObjectTagging, tags in key order.
    public static func document(_ tags: [String: String]) -> S3XML {
        var xml = S3XML()
        xml.element("Tagging", root: true) { xml in
            xml.element("TagSet") { xml in
                for (key, value) in tags.sorted(by: { $0.key < $1.key }) {
                    xml.element("Tag") { xml in
                        xml.value("Key", key)
                        xml.value("Value", value)
                    }
                }
            }
        }
        return xml
    }

    private static func validated(_ pairs: [(String, String)]) throws(S3Error) -> [String: String] {
        guard pairs.count <= maximumCount else { throw S3Error(.invalidTag, "Object tags cannot be greater than \(maximumCount)") }
        var tags: [String: String] = [:]
        for (key, value) in pairs {
            guard (1...maximumKeyLength).contains(key.count) else { throw S3Error(.invalidTag, "The TagKey you have provided is invalid: 1 to 128 characters") }
            guard value.count <= maximumValueLength else { throw S3Error(.invalidTag, "The TagValue you have provided is invalid: up to 256 characters") }
            guard !key.unicodeScalars.contains(where: { $0.value < 0x20 }), !value.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                throw S3Error(.invalidTag, "a tag holds a control character")
            }
            guard tags.updateValue(value, forKey: key) == nil else { throw S3Error(.invalidTag, "Cannot provide multiple Tags with the same key") }
        }
        return tags
    }
}

extension Dictionary {
    /// nil for an empty dictionary: records keep "no tags" as no field.
    var nilIfEmpty: Self? { isEmpty ? nil : self }
}
