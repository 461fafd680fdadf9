import Yams

/// Collects problems while a YAML tree is read, so the loader can keep going after the first.
final class ProblemCollector {
    private(set) var problems: [TopologyProblem] = []

    func report(_ node: Yams.Node?, _ message: String) {
        report(line: node?.mark?.line, message)
    }

    func report(line: Int?, _ message: String) {
        problems.append(TopologyProblem(line: line, message))
    }
}

/// Typed access to the keys of one YAML mapping, reporting wrong types, missing keys and
/// unknown keys (with a suggestion for a likely typo) against the mapping's own line.
struct YAMLFields {
    let mapping: Yams.Node.Mapping
    /// What this mapping is, for messages: "service web", "node east-a-1".
    let subject: String
    let problems: ProblemCollector

    /// Reads `node` as a mapping; reports and returns nil when it is something else.
    init?(_ node: Yams.Node, subject: String, problems: ProblemCollector, allowedKeys: [String]) {
        guard case .mapping(let mapping) = node else {
            problems.report(node, "\(subject) must be a mapping of keys to values, got \(node.yamlKind)")
            return nil
        }
        self.mapping = mapping
        self.subject = subject
        self.problems = problems
        reportUnknownKeys(allowed: allowedKeys)
    }

    private init(mapping: Yams.Node.Mapping, subject: String, problems: ProblemCollector) {
        self.mapping = mapping
        self.subject = subject
        self.problems = problems
    }

    /// The same fields under a more specific name, once the mapping's own `name` is known.
    func named(_ subject: String) -> YAMLFields {
        YAMLFields(mapping: mapping, subject: subject, problems: problems)
    }

    var line: Int? { mapping.mark?.line }

    subscript(key: String) -> Yams.Node? {
        mapping[Yams.Node(key)]
    }

    func line(of key: String) -> Int? {
        self[key]?.mark?.line ?? line
    }

    func has(_ key: String) -> Bool { self[key] != nil }

    private func reportUnknownKeys(allowed: [String]) {
        for (key, _) in mapping {
            let name = key.string ?? "?"
            guard !allowed.contains(name) else { continue }
            let suggestion =
                allowed.min { editDistance($0, name) < editDistance($1, name) }
                .flatMap { editDistance($0, name) <= 2 ? " (did you mean `\($0)`?)" : nil } ?? ""
            problems.report(key, "unknown key `\(name)` in \(subject)\(suggestion); allowed keys: \(allowed.joined(separator: ", "))")
        }
    }

    // MARK: Typed values

    func string(_ key: String, required: Bool = false) -> String? {
        guard let node = value(key, required: required) else { return nil }
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty, node.tag != .init(.null) else {
            problems.report(node, "`\(key)` of \(subject) must be a non-empty string, got \(node.yamlKind)")
            return nil
        }
        return scalar.string
    }

    func int(_ key: String, in range: ClosedRange<Int>, required: Bool = false) -> Int? {
        guard let node = value(key, required: required) else { return nil }
        guard let int = node.int, range.contains(int) else {
            problems.report(node, "`\(key)` of \(subject) must be an integer from \(range.lowerBound) to \(range.upperBound), got \(node.yamlKind)")
            return nil
        }
        return int
    }

    func bool(_ key: String) -> Bool? {
        guard let node = value(key, required: false) else { return nil }
        guard let flag = node.bool else {
            problems.report(node, "`\(key)` of \(subject) must be true or false, got \(node.yamlKind)")
            return nil
        }
        return flag
    }

    func duration(_ key: String) -> Duration? {
        guard let node = value(key, required: false) else { return nil }
        guard let text = node.string, node.int == nil, let duration = Duration(configText: text), duration > .zero else {
            problems.report(node, "`\(key)` of \(subject) must be a positive duration with a unit such as 500ms, 2s or 1m, got \(node.yamlKind)")
            return nil
        }
        return duration
    }

    /// One of the cases of `Choice`, named by its raw value; anything else is reported with the
    /// cases there are. `noun` names the value in the message (default: the key).
    func choice<Choice: RawRepresentable & CaseIterable>(_ key: String, _: Choice.Type, noun: String? = nil) -> Choice?
    where Choice.RawValue == String {
        guard let text = string(key) else { return nil }
        guard let value = Choice(rawValue: text) else {
            let cases = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            problems.report(self[key], "unknown \(noun ?? key) `\(text)` of \(subject); use one of: \(cases)")
            return nil
        }
        return value
    }

    /// A list of strings; a single string is rejected so that `nodes: a, b` is not read as one name.
    func stringList(_ key: String, required: Bool = false) -> [(value: String, line: Int?)]? {
        guard let node = value(key, required: required) else { return nil }
        guard case .sequence(let sequence) = node else {
            problems.report(node, "`\(key)` of \(subject) must be a list such as [a, b], got \(node.yamlKind)")
            return nil
        }
        var result: [(String, Int?)] = []
        for element in sequence {
            guard case .scalar(let scalar) = element, !scalar.string.isEmpty else {
                problems.report(element, "each entry of `\(key)` in \(subject) must be a string, got \(element.yamlKind)")
                continue
            }
            result.append((scalar.string, element.mark?.line))
        }
        return result
    }

    /// A mapping of names to text values (`parameters: {maxmemory: 256mb}`); each entry that is
    /// not a name and a value is reported as not being a `what`.
    func stringMap(_ key: String, what: String) -> [String: String] {
        guard let node = self[key] else { return [:] }
        guard case .mapping(let mapping) = node else {
            problems.report(node, "`\(key)` of \(subject) must be a mapping of \(what)s to values, got \(node.yamlKind)")
            return [:]
        }
        var values: [String: String] = [:]
        for (name, value) in mapping {
            guard let name = name.string, let text = value.string else {
                problems.report(name, "each entry of `\(key)` in \(subject) must be a \(what) name and a value")
                continue
            }
            values[name] = text
        }
        return values
    }

    func sequence(_ key: String, required: Bool = false) -> Yams.Node.Sequence? {
        guard let node = value(key, required: required) else { return nil }
        guard case .sequence(let sequence) = node else {
            problems.report(node, "`\(key)` of \(subject) must be a list, got \(node.yamlKind)")
            return nil
        }
        return sequence
    }

    private func value(_ key: String, required: Bool) -> Yams.Node? {
        guard let node = self[key] else {
            if required { problems.report(line: line, "\(subject) is missing the required key `\(key)`") }
            return nil
        }
        return node
    }
}

extension Yams.Node {
    /// A short description of what a node holds, for "expected X, got Y" messages.
    var yamlKind: String {
        switch self {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            if tag == .init(.null) { return "nothing (null)" }
            return "\"\(scalar.string)\""
        }
    }
}

/// Levenshtein distance, for "did you mean" suggestions on short keys.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    var previous = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in stride(from: 1, through: b.count, by: 1) {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
}
