import Foundation
import ZonalTesting

#if canImport(Glibc)
    import Glibc
#endif

// One libFuzzer binary for every parser of ZonalTesting's ParserFuzzing; ZONAL_FUZZ_TARGET names
// the one to run (see FuzzTarget.swift). SwiftPM gives an executable its own entry point, so
// libFuzzer's `main` is not used; this one hands the command line to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzer(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

guard let chosen = selectedTarget else {
    FileHandle.standardError.write(Data("set ZONAL_FUZZ_TARGET to one of: \(ParserFuzzing.targets.map(\.name).joined(separator: ", "))\n".utf8))
    exit(2)
}

// The target's seeds go into the corpus directory first (ZONAL_FUZZ_SEED_DIR), so every run
// starts from inputs that reach deep into the parser. Top-level code runs on the main actor,
// which waits here: the seeds are made off it.
if let seedDirectory = ProcessInfo.processInfo.environment["ZONAL_FUZZ_SEED_DIR"] {
    let written = DispatchSemaphore(value: 0)
    Task.detached {
        for (index, seed) in await chosen.seeds().enumerated() {
            FileManager.default.createFile(atPath: "\(seedDirectory)/seed-\(index)", contents: Data(seed))
        }
        written.signal()
    }
    written.wait()
}

var argumentCount = CommandLine.argc
var arguments = CommandLine.unsafeArgv
exit(runFuzzer(&argumentCount, &arguments) { data, size in fuzzOneInput(data, size) })
