import Testing
import ZonalTesting

/// The seeded counterpart of the libFuzzer targets in `Fuzz/`: every parser's own check, run on
/// its seeds and on seeded mutations of them (flipped, inserted, deleted and duplicated bytes,
/// splices of two seeds, extreme numbers), as CI can afford on every run.
@Suite("Parsers under mutated input")
struct ParserFuzzingTests {
    static let interesting: [[UInt8]] = [
        "9223372036854775807", "-9223372036854775808", "18446744073709551616", "-1", "0", "1e308", "NaN", "\u{FF}", "\n", "\"", "{", "]",
    ].map { Array($0.utf8) }

    @Test("seeds and their mutations get an answer or a specific error from every parser", arguments: ParserFuzzing.targets.map(\.name))
    func mutations(name: String) async throws {
        let target = try #require(ParserFuzzing.target(named: name))
        let seeds = await target.seeds()
        #expect(!seeds.isEmpty && seeds.allSatisfy { !$0.isEmpty }, "\(name) has no seeds")
        var random = SeededRandom(seed: 0x5EED_0000 &+ UInt64(name.utf8.reduce(0) { $0 &* 31 &+ Int($1) }.magnitude))
        let rounds = name.hasPrefix("coordinator-") ? 150 : 600
        for seed in seeds { target.check(seed) }
        for _ in 0..<rounds {
            var bytes = seeds[Int.random(in: 0..<seeds.count, using: &random)]
            for _ in 0..<Int.random(in: 1...5, using: &random) { mutate(&bytes, seeds: seeds, &random) }
            target.check(bytes)
            await Task.yield()
        }
    }

    private func mutate(_ bytes: inout [UInt8], seeds: [[UInt8]], _ random: inout SeededRandom) {
        let at = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
        switch Int.random(in: 0..<7, using: &random) {
        case 0 where !bytes.isEmpty: bytes[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &random))
        case 1: bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
        case 2 where !bytes.isEmpty: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...16, using: &random)))
        case 3 where !bytes.isEmpty: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 8)], at: at)
        case 4:
            let other = seeds[Int.random(in: 0..<seeds.count, using: &random)]
            bytes = Array(bytes.prefix(at)) + other.suffix(Int.random(in: 0...other.count, using: &random))
        case 5: bytes.insert(contentsOf: Self.interesting[Int.random(in: 0..<Self.interesting.count, using: &random)], at: at)
        default: bytes = Array(bytes.prefix(at))
        }
    }
}
