/// Splits a zone file (RFC 1035 §5.1) into entries: the tokens of one record or directive,
/// joined across lines inside parentheses, with comments dropped and quoted strings kept
/// whole. Escapes stay in the tokens' text; names and strings resolve them.
struct ZoneFileTokenizer {
    struct Token: Sendable {
        var text: [UInt8]
        var quoted: Bool
        var line: Int

        var string: String { String(decoding: text, as: UTF8.self) }
    }

    struct Entry: Sendable {
        var tokens: [Token]
        /// The entry's first line began with a blank: the owner is the previous record's.
        var continuesOwner: Bool
        var line: Int
    }

    static func entries(_ text: [UInt8], file: String) throws(ZoneFileError) -> [Entry] {
        var entries: [Entry] = []
        var tokens: [Token] = []
        var continuesOwner = false
        var entryLine = 1
        var line = 1
        var depth = 0
        var index = 0
        var atLineStart = true
        func finishEntry() {
            if !tokens.isEmpty { entries.append(Entry(tokens: tokens, continuesOwner: continuesOwner, line: entryLine)) }
            tokens = []
        }
        while index < text.count {
            let byte = text[index]
            if atLineStart {
                if depth == 0 {
                    continuesOwner = byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
                    entryLine = line
                }
                atLineStart = false
            }
            switch byte {
            case UInt8(ascii: "\n"):
                line += 1
                index += 1
                atLineStart = true
                if depth == 0 { finishEntry() }
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                index += 1
            case UInt8(ascii: ";"):
                while index < text.count, text[index] != UInt8(ascii: "\n") { index += 1 }
            case UInt8(ascii: "("):
                depth += 1
                index += 1
            case UInt8(ascii: ")"):
                guard depth > 0 else { throw ZoneFileError(file: file, line: line, "`)` without an opening `(`") }
                depth -= 1
                index += 1
            case UInt8(ascii: "\""):
                let start = line
                var value: [UInt8] = []
                index += 1
                while true {
                    guard index < text.count else { throw ZoneFileError(file: file, line: start, "a quoted string is not closed") }
                    let next = text[index]
                    if next == UInt8(ascii: "\"") { break }
                    if next == UInt8(ascii: "\n") { line += 1 }
                    take(text, at: &index, into: &value)
                }
                index += 1
                tokens.append(Token(text: value, quoted: true, line: start))
            default:
                var value: [UInt8] = []
                while index < text.count {
                    let next = text[index]
                    if [
                        UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"), UInt8(ascii: ";"), UInt8(ascii: "("), UInt8(ascii: ")"),
                        UInt8(ascii: "\""),
                    ]
                    .contains(next) {
                        break
                    }
                    take(text, at: &index, into: &value)
                }
                tokens.append(Token(text: value, quoted: false, line: line))
            }
        }
        guard depth == 0 else { throw ZoneFileError(file: file, line: entryLine, "`(` is not closed by the end of the file") }
        finishEntry()
        return entries
    }

    /// Moves the byte at `index` into a token, with the byte after it when it is a backslash
    /// (escapes are resolved later, by names and strings).
    private static func take(_ text: [UInt8], at index: inout Int, into value: inout [UInt8]) {
        let escaped = text[index] == UInt8(ascii: "\\") && index + 1 < text.count
        value += text[index..<(index + (escaped ? 2 : 1))]
        index += escaped ? 2 : 1
    }

    /// A token's bytes with `\X` and `\DDD` resolved: the content of a character-string.
    static func unescaped(_ token: Token, file: String) throws(ZoneFileError) -> [UInt8] {
        var bytes = token.text[...]
        var value: [UInt8] = []
        while let byte = bytes.popFirst() {
            guard byte == UInt8(ascii: "\\") else {
                value.append(byte)
                continue
            }
            do { value.append(try DNSName.unescape(&bytes, in: Substring(token.string))) } catch {
                throw ZoneFileError(file: file, line: token.line, "bad escape in \"\(token.string)\" (use \\X or \\DDD with DDD at most 255)")
            }
        }
        return value
    }
}

/// A zone file that cannot be loaded: the file, the line and what is wrong there.
public struct ZoneFileError: Error, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    init(file: String, line: Int, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file):\(line): \(message)" }
}
