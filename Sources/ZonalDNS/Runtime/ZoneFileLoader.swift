import Foundation

/// Reads a zone file and the files it includes from disk.
enum ZoneFileLoader {
    /// Zone files larger than this are refused rather than read into memory.
    static let maximumFileBytes = 256 << 20

    static func records(path: String, origin: DNSName) throws -> [ResourceRecord] {
        try ZoneFileParser.parse(try read(path), file: path, origin: origin, readFile: read)
    }

    static func read(_ path: String) throws -> [UInt8] {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes[.size] as? Int, size > maximumFileBytes {
            throw ZoneFileError(file: path, line: 0, "the file is \(size) bytes; zone files are read up to \(maximumFileBytes)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ZoneFileError(file: path, line: 0, "cannot read the zone file")
        }
        return Array(data)
    }
}
