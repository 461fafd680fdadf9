import Testing
import ZonalTesting

@testable import ZonalCore

/// Seeded random damage to a valid topology file: every result is either a topology or a
/// `TopologyError` with at least one problem — never a crash, never an empty error.
@Suite("Damaged topology files")
struct TopologyMutationTests {
    static let lines = BuiltinTopology.quickstartYAML.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)

    static func mutate(_ lines: [String], using random: inout SeededRandom) -> String {
        var lines = lines
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            guard !lines.isEmpty else { break }
            let index = Int.random(in: 0..<lines.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0: lines.remove(at: index)
            case 1: lines.insert(lines[Int.random(in: 0..<lines.count, using: &random)], at: index)
            case 2: lines[index] = "\t" + lines[index]
            case 3:
                var characters = Array(lines[index])
                if !characters.isEmpty {
                    characters[Int.random(in: 0..<characters.count, using: &random)] = ["{", "]", ":", "-", "&", "*", "\"", "é", " "].randomElement(
                        using: &random)!
                }
                lines[index] = String(characters)
            case 4: lines[index] = String(lines[index].prefix(Int.random(in: 0...max(lines[index].count, 1), using: &random)))
            default: lines.swapAt(index, Int.random(in: 0..<lines.count, using: &random))
            }
        }
        return lines.joined(separator: "\n")
    }

    @Test("mutated quickstart files load or fail with specific problems", arguments: 0..<400)
    func mutation(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let yaml = Self.mutate(Self.lines, using: &random)
        do {
            let topology = try TopologyLoader.parse(yaml)
            #expect(TopologyValidator.problems(in: topology).isEmpty, "seed \(seed)")
        } catch {
            #expect(!error.problems.isEmpty, "seed \(seed)")
            #expect(error.problems.allSatisfy { !$0.message.isEmpty }, "seed \(seed)")
        }
    }
}
