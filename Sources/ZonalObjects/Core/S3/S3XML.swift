import Foundation
import ZonalBackup

/// Writes the XML documents of S3's responses: one element at a time, text always escaped, so
/// no key or message can break out of its element.
public struct S3XML: Sendable {
    public internal(set) var text = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
    static let namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

    public init() {}

    /// `<name>…</name>` around what `body` writes; the root element gets S3's namespace.
    public mutating func element(_ name: String, root: Bool = false, _ body: (inout S3XML) -> Void) {
        text += root ? "<\(name) xmlns=\"\(Self.namespace)\">" : "<\(name)>"
        body(&self)
        text += "</\(name)>"
    }

    /// `<name>value</name>`, escaped.
    public mutating func value(_ name: String, _ value: String) {
        text += "<\(name)>\(Self.escape(value))</\(name)>"
    }

    public mutating func value(_ name: String, _ value: some BinaryInteger) {
        text += "<\(name)>\(value)</\(name)>"
    }

    public mutating func value(_ name: String, _ value: Bool) {
        text += "<\(name)>\(value ? "true" : "false")</\(name)>"
    }

    public mutating func value(_ name: String, date: Date) {
        value(name, Self.timestamp(date))
    }

    /// The one XML escaping of Zonal's S3 code: ``XMLText/escape(_:)``.
    public static func escape(_ text: String) -> String { XMLText.escape(text) }

    /// `2026-12-02T16:46:20.000Z`, the form S3's listings use.
    public static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// The error document of `error` for the resource the request named.
    public static func error(_ error: S3Error, resource: String, requestID: String) -> String {
        var xml = S3XML()
        xml.element("Error") { xml in
            xml.value("Code", error.code.rawValue)
            xml.value("Message", error.message)
            xml.value("Resource", resource)
            xml.value("RequestId", requestID)
        }
        return xml.text
    }
}

/// HTTP dates (`Wed, 02 Dec 2026 16:46:20 GMT`) of `Last-Modified` and the conditional headers.
public enum HTTPDate {
    public static func format(_ date: Date) -> String {
        formatter().string(from: date)
    }

    public static func parse(_ text: String) -> Date? {
        formatter().date(from: text)
    }

    private static func formatter() -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter
    }
}
