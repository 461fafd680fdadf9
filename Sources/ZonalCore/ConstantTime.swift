/// Comparison of secrets (tokens, passwords, signatures) whose time depends only on the length
/// of the expected one, never on where a presented value first differs from it.
public enum ConstantTime {
    public static func equal(expected: some Collection<UInt8>, presented: some Collection<UInt8>) -> Bool {
        let expected = Array(expected)
        let presented = Array(presented)
        var difference = UInt8(truncatingIfNeeded: expected.count ^ presented.count)
        for index in expected.indices {
            difference |= expected[index] ^ (index < presented.count ? presented[index] : 0)
        }
        return difference == 0
    }

    public static func equal(expected: some StringProtocol, presented: some StringProtocol) -> Bool {
        equal(expected: expected.utf8, presented: presented.utf8)
    }
}
