import ZonalBalancer

/// libFuzzer entry point: the input is split at each 0xFF byte into separate reads, so the
/// fuzzer also explores requests that arrive in pieces.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPFront(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let chunks = bytes.split(separator: 0xFF, omittingEmptySubsequences: false).map(Array.init)
    let answer = HTTPFrontHarness.feed(chunks)
    // Whatever came in, what goes out is an HTTP response (or nothing).
    precondition(answer.isEmpty || answer.starts(with: Array("HTTP/1.".utf8)), "the balancer wrote something that is not HTTP")
    return 0
}
