#if canImport(Glibc)
import Glibc
#endif

// SwiftPM gives an executable its own entry point, so libFuzzer's `main` is not used; this one
// hands the command line to libFuzzer's driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzer(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

var argumentCount = CommandLine.argc
var arguments = CommandLine.unsafeArgv
exit(runFuzzer(&argumentCount, &arguments) { data, size in fuzzHTTPFront(data, size) })
