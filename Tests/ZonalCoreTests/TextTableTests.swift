import Testing
import ZonalCore

@Suite("Text tables")
struct TextTableTests {
    @Test("columns are as wide as their widest cell, two spaces apart; short rows and decorations do not shift them")
    func layout() {
        let table = TextTable(header: ["NODE", "ROLE", "LAG"], rows: [["east-a-1", "primary", "-"], ["b", "(no agent)"]])
        #expect(table.lines() == ["NODE      ROLE        LAG", "east-a-1  primary     -", "b         (no agent)"])
        let painted = table.lines { column, _, padded in column == 1 ? "<\(padded)>" : padded }
        #expect(painted[1] == "east-a-1  <primary   >  -")
    }

    @Test("sizes for people: bytes below a KiB as they are, then one decimal in the largest unit that fits")
    func byteText() {
        #expect(ByteText.format(0) == "0 B")
        #expect(ByteText.format(1023) == "1023 B")
        #expect(ByteText.format(1536) == "1.5 KiB")
        #expect(ByteText.format(64 << 20) == "64.0 MiB")
        #expect(ByteText.format(Int64(3.2 * 1024 * 1024 * 1024)) == "3.2 GiB")
        #expect(ByteText.format(Int64.max) == "8388608.0 TiB")
    }
}
