import Foundation
import ZonalTesting

/// The parser `ZONAL_FUZZ_TARGET` names (Fuzz/run sets it), looked up once.
let selectedTarget: ParserFuzzing.Target? = ProcessInfo.processInfo.environment["ZONAL_FUZZ_TARGET"].flatMap(ParserFuzzing.target(named:))

/// libFuzzer's entry point: one input for the selected parser's check.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    selectedTarget?.check(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
