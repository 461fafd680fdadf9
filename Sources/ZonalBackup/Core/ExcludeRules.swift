import Foundation

/// What a backup leaves out, as shell patterns (`*`, `?`, `[...]`, matched by `fnmatch`):
///
/// - a pattern without `/` matches an entry's name anywhere: `.cache`, `*.tmp`, `node_modules`;
/// - a pattern starting with `/` matches a whole path: `/var/lib/*/cache`;
/// - any other pattern matches the end of a path, whole components at a time: `build/*.o`
///   leaves out `/src/app/build/main.o`.
///
/// In patterns with `/`, `*` never crosses a `/`. A directory left out is not descended into.
public struct ExcludeRules: Sendable, Hashable {
    public let patterns: [String]

    public init(_ patterns: [String] = []) {
        self.patterns = patterns.filter { !$0.isEmpty }
    }

    /// Whether the entry at absolute `path`, whose last component is `name`, is left out.
    public func excludes(path: String, name: String) -> Bool {
        patterns.contains { pattern in
            if !pattern.contains("/") { return Self.matches(pattern, name) }
            if pattern.hasPrefix("/") { return Self.matches(pattern, path) }
            // Every tail of the path that starts at a component boundary.
            return path.indices.contains { index in
                path[index] == "/" && Self.matches(pattern, String(path[path.index(after: index)...]))
            }
        }
    }

    private static func matches(_ pattern: String, _ text: String) -> Bool {
        fnmatch(pattern, text, FNM_PATHNAME) == 0
    }
}
