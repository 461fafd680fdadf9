import Foundation
import Yams

/// Reads a topology file into a ``Topology`` and validates it.
///
/// Parsing keeps going after a problem so that every problem in the file is reported at once,
/// each with its line. Nothing here crashes on bad input: invalid YAML, wrong types, missing or
/// unknown keys and broken references all end in one ``TopologyError``.
public enum TopologyLoader {
    /// Loads and validates the file at `path`.
    public static func load(path: String) throws(TopologyError) -> Topology {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw TopologyError(file: path, problems: [TopologyProblem(line: nil, "cannot read the file: \(error.localizedDescription)")])
        }
        return try parse(text, file: path)
    }

    /// Parses and validates topology YAML; `file` only labels the errors.
    public static func parse(_ yaml: String, file: String? = nil) throws(TopologyError) -> Topology {
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw TopologyError(file: file, problems: [problem(fromYAMLError: error)])
        }
        guard let root else {
            throw TopologyError(
                file: file, problems: [TopologyProblem(line: nil, "the file is empty; a topology needs at least `name`, `regions`, `nodes` and `services`")])
        }
        let problems = ProblemCollector()
        var reader = TopologyReader(problems: problems)
        let topology = reader.read(root)
        guard problems.problems.isEmpty, let topology else {
            throw TopologyError(file: file, problems: problems.problems)
        }
        let semanticProblems = TopologyValidator.problems(in: topology, sourceMap: reader.sourceMap)
        guard semanticProblems.isEmpty else {
            throw TopologyError(file: file, problems: semanticProblems)
        }
        guard topology.coordinator.localCluster else { return topology }
        // The members join the topology as a service, so their ports are checked like any other.
        let withCluster = LocalEtcdCluster.expand(topology)
        let clusterProblems = TopologyValidator.problems(in: withCluster, sourceMap: reader.sourceMap)
        guard clusterProblems.isEmpty else { throw TopologyError(file: file, problems: clusterProblems) }
        return withCluster
    }

    private static func problem(fromYAMLError error: any Error) -> TopologyProblem {
        guard let yamlError = error as? YamlError else {
            return TopologyProblem(line: nil, "not valid YAML: \(error)")
        }
        switch yamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return TopologyProblem(line: mark.line, "not valid YAML: \(problem) (column \(mark.column))")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return TopologyProblem(
                line: context.mark.line, "duplicate key \(duplicates.map { "`\($0)`" }.joined(separator: ", ")) in one mapping; each key may appear once")
        case .reader(let problem, _, let offset, _):
            return TopologyProblem(line: nil, "not valid YAML text: \(problem)\(offset >= 0 ? " at byte \(offset)" : "")")
        default:
            return TopologyProblem(line: nil, "not valid YAML: \(yamlError)")
        }
    }
}
