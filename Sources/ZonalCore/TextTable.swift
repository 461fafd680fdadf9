/// Columns padded to their widest cell, two spaces apart, trailing blanks trimmed: how every
/// `zonal` status table prints, so they all line up the same way.
public struct TextTable: Sendable, Hashable {
    public var header: [String]
    /// Rows may be shorter than the header; missing cells are empty.
    public var rows: [[String]]

    public init(header: [String], rows: [[String]]) {
        self.header = header
        self.rows = rows
    }

    /// The header line, then one line per row. `decorate(column, cell, padded)` may change a
    /// row's cell after padding (colour), so escapes do not count towards the widths.
    public func lines(decorate: (Int, String, String) -> String = { _, _, padded in padded }) -> [String] {
        let cells = rows.map { row in header.indices.map { $0 < row.count ? row[$0] : "" } }
        let widths = header.indices.map { column in ([header] + cells).map { $0[column].count }.max() ?? 0 }
        func line(_ row: [String], decorated: Bool) -> String {
            row.enumerated().map { column, cell in
                let padded = cell + String(repeating: " ", count: widths[column] - cell.count)
                return decorated ? decorate(column, cell, padded) : padded
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        return [line(header, decorated: false)] + cells.map { line($0, decorated: true) }
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
