/// The small XML documents S3 clients send (DeleteObjects, CompleteMultipartUpload,
/// CreateBucketConfiguration), parsed strictly and without recursion: elements, text, the five
/// predefined entities and character references. A DOCTYPE (and so every entity expansion
/// attack) is refused, and depth and size are bounded.
public struct XMLElementTree: Sendable, Hashable {
    public var name: String
    public var text: String
    public var children: [XMLElementTree]

    public static let maxDepth = 16
    public static let maxElements = 20_000

    /// The first child named `name` (namespace prefixes ignored).
    public func child(_ name: String) -> XMLElementTree? {
        children.first { $0.localName == name }
    }

    public func children(_ name: String) -> [XMLElementTree] {
        children.filter { $0.localName == name }
    }

    public var localName: Substring {
        name.split(separator: ":").last ?? Substring(name)
    }

    public static func parse(_ bytes: [UInt8]) throws(S3Error) -> XMLElementTree {
        var parser = Parser(bytes: bytes)
        return try parser.document()
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var elements = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        mutating func document() throws(S3Error) -> XMLElementTree {
            var stack: [XMLElementTree] = []
            var root: XMLElementTree?
            while index < bytes.count {
                if bytes[index] != UInt8(ascii: "<") {
                    let text = try readText()
                    if stack.isEmpty {
                        guard text.allSatisfy(\.isWhitespace) else { throw malformed("text outside the root element") }
                    } else {
                        stack[stack.count - 1].text += text
                    }
                    continue
                }
                if starts("<?") {
                    try skip(past: "?>")
                } else if starts("<!--") {
                    try skip(past: "-->")
                } else if starts("<![CDATA[") {
                    index += 9
                    let start = index
                    try skip(past: "]]>")
                    guard !stack.isEmpty else { throw malformed("CDATA outside the root element") }
                    stack[stack.count - 1].text += String(decoding: bytes[start..<(index - 3)], as: UTF8.self)
                } else if starts("<!") {
                    throw malformed("a DOCTYPE or declaration, which this store does not accept")
                } else if starts("</") {
                    index += 2
                    let name = try readName()
                    skipSpace()
                    try expect(">")
                    guard let closed = stack.popLast(), closed.name == name else { throw malformed("</\(name)> closes nothing open") }
                    if stack.isEmpty {
                        guard root == nil else { throw malformed("more than one root element") }
                        root = closed
                    } else {
                        stack[stack.count - 1].children.append(closed)
                    }
                } else {
                    index += 1
                    let name = try readName()
                    let selfClosing = try skipAttributes()
                    elements += 1
                    guard elements <= XMLElementTree.maxElements else { throw malformed("more than \(XMLElementTree.maxElements) elements") }
                    let element = XMLElementTree(name: name, text: "", children: [])
                    if selfClosing {
                        if stack.isEmpty {
                            guard root == nil else { throw malformed("more than one root element") }
                            root = element
                        } else {
                            stack[stack.count - 1].children.append(element)
                        }
                    } else {
                        guard root == nil else { throw malformed("content after the root element") }
                        stack.append(element)
                        guard stack.count <= XMLElementTree.maxDepth else { throw malformed("elements nested deeper than \(XMLElementTree.maxDepth)") }
                    }
                }
            }
            guard stack.isEmpty, let root else { throw malformed("the document ends inside an element or has none") }
            return root
        }

        func starts(_ literal: String) -> Bool {
            let pattern = Array(literal.utf8)
            return bytes.count - index >= pattern.count && bytes[index..<(index + pattern.count)].elementsEqual(pattern)
        }

        mutating func skip(past literal: String) throws(S3Error) {
            let pattern = Array(literal.utf8)
            while index + pattern.count <= bytes.count {
                if bytes[index..<(index + pattern.count)].elementsEqual(pattern) {
                    index += pattern.count
                    return
                }
                index += 1
            }
            throw malformed("an unterminated `\(literal)` construct")
        }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func expect(_ character: Character) throws(S3Error) {
            guard index < bytes.count, bytes[index] == character.asciiValue else { throw malformed("expected `\(character)`") }
            index += 1
        }

        mutating func readName() throws(S3Error) -> String {
            let start = index
            while index < bytes.count {
                let byte = bytes[index]
                let isNameByte =
                    byte >= 0x80 || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "_")
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                guard isNameByte else { break }
                index += 1
            }
            guard index > start, index - start <= 256 else { throw malformed("an element name is empty or too long") }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// Skips `name="value"` pairs; returns whether the tag ends with `/>`.
        mutating func skipAttributes() throws(S3Error) -> Bool {
            while true {
                skipSpace()
                guard index < bytes.count else { throw malformed("an unterminated tag") }
                if bytes[index] == UInt8(ascii: ">") {
                    index += 1
                    return false
                }
                if starts("/>") {
                    index += 2
                    return true
                }
                _ = try readName()
                skipSpace()
                try expect("=")
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else {
                    throw malformed("an attribute value is not quoted")
                }
                let quote = bytes[index]
                index += 1
                while index < bytes.count, bytes[index] != quote {
                    guard bytes[index] != UInt8(ascii: "<") else { throw malformed("`<` inside an attribute value") }
                    index += 1
                }
                try expect(Character(Unicode.Scalar(quote)))
            }
        }

        mutating func readText() throws(S3Error) -> String {
            var text: [UInt8] = []
            while index < bytes.count, bytes[index] != UInt8(ascii: "<") {
                if bytes[index] == UInt8(ascii: "&") {
                    text += try readReference()
                } else {
                    text.append(bytes[index])
                    index += 1
                }
            }
            guard let decoded = String(validating: text, as: UTF8.self) else { throw malformed("text that is not UTF-8") }
            return decoded
        }

        mutating func readReference() throws(S3Error) -> [UInt8] {
            guard let end = bytes[index...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else { throw malformed("an unterminated `&` reference") }
            let name = String(decoding: bytes[(index + 1)..<end], as: UTF8.self)
            index = end + 1
            switch name {
            case "amp": return Array("&".utf8)
            case "lt": return Array("<".utf8)
            case "gt": return Array(">".utf8)
            case "quot": return Array("\"".utf8)
            case "apos": return Array("'".utf8)
            default:
                let number: UInt32?
                if name.hasPrefix("#x") {
                    number = UInt32(name.dropFirst(2), radix: 16)
                } else if name.hasPrefix("#") {
                    number = UInt32(name.dropFirst())
                } else {
                    number = nil
                }
                guard let number, number > 0, let scalar = Unicode.Scalar(number) else { throw malformed("an unknown entity `&\(name);`") }
                return Array(String(scalar).utf8)
            }
        }

        func malformed(_ why: String) -> S3Error {
            S3Error(.malformedXML, "The XML you provided was not well-formed: \(why)")
        }
    }
}
