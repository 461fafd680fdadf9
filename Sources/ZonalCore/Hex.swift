/// Lower-case hexadecimal, the form digests take wherever Zonal names or compares them: blob
/// ids and pack names, S3 signatures, WAL checksums.
extension Sequence<UInt8> {
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
