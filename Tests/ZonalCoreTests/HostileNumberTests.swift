import Foundation
import Testing
import ZonalCore
import ZonalTesting

/// Numbers from outside Zonal (files, requests, options) are range-checked before use: huge,
/// negative, zero and non-numeric values get an answer, never an arithmetic trap.
@Suite("Hostile numbers and secrets")
struct HostileNumberTests {
    @Test(
        "durations: huge, negative, non-finite and malformed texts are refused; the largest allowed still adds to an instant",
        arguments: [
            "9223372036854775807s", "1e300s", "1e3s", "inf s", "infs", "nans", "-1s", "-0.5ms", "+1s", "0x10s", "1_000s",
            "99999999999999999999h", "87601h", "", "s", " ", "1.2.3s", "١s",
        ])
    func hostileDurations(text: String) {
        #expect(Duration(configText: text) == nil, "\(text) was accepted")
    }

    @Test("durations up to ten years are read exactly, zero included")
    func largestDurations() throws {
        #expect(Duration(configText: "0s") == .zero)
        #expect(Duration(configText: "87600h") == Duration.configMaximum)
        let far = MonotonicInstant(nanoseconds: Int64.max - 5) + .seconds(1)
        #expect(far.nanoseconds == .max, "an instant saturates rather than trapping")
        #expect((MonotonicInstant(nanoseconds: .min + 5) - .seconds(1)).nanoseconds == .min)
        #expect((MonotonicInstant(nanoseconds: .max) - MonotonicInstant(nanoseconds: .min)) == .nanoseconds(Int64.max))
        #expect((MonotonicInstant.zero + .seconds(-1)).nanoseconds == -1_000_000_000)
    }

    @Test("an admin token compares in full: a prefix, an extension or a different byte never matches")
    func tokenComparison() throws {
        let token = try AdminToken(secret: "abc123")
        #expect(token.matches("abc123"))
        for wrong in ["", "abc12", "abc1234", "abc124", "ABC123", "abc123\0"] { #expect(!token.matches(wrong), "\(wrong) matched") }
        #expect(throws: AdminTokenError.empty) { try AdminToken(secret: " \n") }
        #expect(!"\(token)".contains("abc123"), "a token never prints its secret")
        #expect(AdminToken.generate() != AdminToken.generate())
        #expect(AdminToken.generate().secret.count == 64)
    }

    @Test("the admin token file is created once, owner-only; one others can read is refused with the fix")
    func tokenFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let token = try AdminToken.loadOrCreate(stateDirectory: directory.path)
        let path = directory.file(AdminToken.fileName)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        #expect(try AdminToken.loadOrCreate(stateDirectory: directory.path) == token, "a second start keeps the token")
        #expect(try AdminToken.find(tokenFile: nil, stateDirectory: directory.path, environment: [:]) == token)
        #expect(try AdminToken.find(tokenFile: nil, stateDirectory: nil, environment: [AdminToken.environmentKey: "x1"]) == AdminToken(secret: "x1"))
        #expect(try AdminToken.find(tokenFile: nil, stateDirectory: nil, environment: [:]) == nil)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect {
            try AdminToken.load(file: path)
        } throws: { error in
            "\(error)".contains("lets other users read it; run chmod 600")
        }
    }
}
