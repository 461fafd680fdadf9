import Foundation
import Testing
import ZonalCore

@testable import ZonalBackup

/// Files of a repository come from storage anyone with write access could have changed: their
/// numbers are range-checked before use, with a specific error.
@Suite("Hostile repository files")
struct HostileRepositoryFileTests {
    static let hostileParameters: [(Int, Int, Int)] = [
        (Int.max, 8, 1), (1_048_576, 8, 1), (1000, 8, 1), (0, 8, 1), (-1024, 8, 1), (32768, 0, 1), (32768, -8, 1), (32768, 8, 0), (32768, 8, 1_099_511_627_776),
        (32768, 33, 1),
    ]

    @Test("scrypt parameters out of range are refused before scrypt sees them", arguments: hostileParameters)
    func scryptParameters(rounds: Int, blockSize: Int, parallelism: Int) throws {
        var file = KeyFile.make(for: .random(), password: "pw", rounds: 1 << 10)
        (file.rounds, file.blockSize, file.parallelism) = (rounds, blockSize, parallelism)
        #expect {
            try file.unlock(password: "pw")
        } throws: { error in
            "\(error)".contains("scrypt N=\(rounds) r=\(blockSize) p=\(parallelism)")
        }
    }

    @Test("a genuine key file still opens, and only with its password")
    func genuine() throws {
        let file = KeyFile.make(for: .random(), password: "pw", rounds: 1 << 10)
        _ = try file.unlock(password: "pw")
        #expect(throws: BackupError.wrongPassword) { try file.unlock(password: "other") }
    }

    @Test(
        "index entries with offsets or lengths out of range do not decode",
        arguments: [
            #""offset":-1,"length":10,"plainLength":4"#, #""offset":9223372036854775807,"length":9223372036854775807,"plainLength":4"#,
            #""offset":0,"length":-5,"plainLength":4"#, #""offset":0,"length":10,"plainLength":9223372036854775807"#,
        ])
    func indexRanges(fields: String) throws {
        let json = #"{"packs":[{"pack":"ab","blobs":[{"id":"abababababababababababababababababababababababababababababababab","kind":"data",\#(fields)}]}]}"#
        #expect {
            try JSONDecoder.zonal().decode(IndexFile.self, from: Data(json.utf8))
        } throws: { error in
            "\(error)".contains("out of range")
        }
        let valid =
            #"{"packs":[{"pack":"ab","blobs":[{"id":"abababababababababababababababababababababababababababababababab","kind":"data","offset":0,"length":10,"plainLength":4}]}]}"#
        #expect(try JSONDecoder.zonal().decode(IndexFile.self, from: Data(valid.utf8)).packs[0].blobs[0].length == 10)
    }
}
