import Testing
import ZonalTesting

@testable import ZonalBackup

@Suite("Content-defined chunking", .serialized)
struct FastCDCTests {
    static let small = FastCDC.Settings(minimum: 2 << 10, average: 8 << 10, maximum: 64 << 10)

    func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    func chunks(_ bytes: [UInt8], settings: FastCDC.Settings = small, readSize: Int = 10_000) -> [[UInt8]] {
        var stream = ChunkStream(chunker: FastCDC(settings: settings))
        var result: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            result += stream.feed(bytes[offset..<min(offset + readSize, bytes.count)])
            offset += readSize
        }
        return result + stream.finish()
    }

    @Test("chunks cover the input exactly, stay within bounds, average near the target, whatever the read size")
    func bounds() {
        let input = randomBytes(2 << 20, seed: 1)
        let cut = chunks(input)
        #expect(cut.flatMap { $0 } == input)
        #expect(cut.dropLast().allSatisfy { $0.count >= Self.small.minimum && $0.count <= Self.small.maximum })
        let average = input.count / cut.count
        #expect(average > 6 << 10 && average < 16 << 10, "average chunk \(average)")
        #expect(chunks(input, readSize: 777).map(\.count) == cut.map(\.count), "cut points do not depend on how the input is read")
    }

    @Test("bytes inserted or deleted in the middle change only the chunks around them", arguments: [1, 100, 5000])
    func shiftResistance(change: Int) {
        let original = randomBytes(4 << 20, seed: 2)
        var edited = original
        edited.insert(contentsOf: randomBytes(change, seed: 3), at: original.count / 2)
        var deleted = original
        deleted.removeSubrange((original.count / 3)..<(original.count / 3 + change))
        let before = Set(chunks(original))
        for changed in [edited, deleted] {
            let after = chunks(changed)
            let shared = after.filter { before.contains($0) }.count
            #expect(Double(shared) / Double(after.count) > 0.97, "only \(shared) of \(after.count) chunks shared after changing \(change) bytes")
        }
    }

    @Test("bad sizes are refused with the reason")
    func settings() {
        #expect(FastCDC.Settings(minimum: 4096, average: 3000, maximum: 8192).problem?.contains("minimum < average < maximum") == true)
        #expect(FastCDC.Settings(minimum: 1024, average: 3000, maximum: 8192).problem?.contains("power of two") == true)
        #expect(FastCDC.Settings().problem == nil)
    }
}
