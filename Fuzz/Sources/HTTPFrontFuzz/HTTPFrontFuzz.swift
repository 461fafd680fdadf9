import ZonalBalancer

/// The fuzzed function: the input is split at each 0xFF byte into separate reads, so the fuzzer
/// also explores requests that arrive in pieces. Whatever came in, what goes out must be an
/// HTTP response (or nothing); a crash, a hang or anything else is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPFront(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let chunks = bytes.split(separator: 0xFF, omittingEmptySubsequences: false).map(Array.init)
    let answer = HTTPFrontHarness.feed(chunks)
    precondition(answer.isEmpty || answer.starts(with: Array("HTTP/1.".utf8)), "the balancer wrote something that is not HTTP")
    return 0
}
