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
}
