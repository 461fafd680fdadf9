import Testing
import ZonalBackup

@Suite("Exclude patterns")
struct ExcludeRulesTests {
    let rules = ExcludeRules([".cache", "*.tmp", "/srv/app/logs", "/var/lib/*/cache", "build/*.o", ""])

    func excluded(_ path: String) -> Bool {
        rules.excludes(path: path, name: String(path.split(separator: "/").last ?? ""))
    }

    @Test("a pattern without a slash matches names anywhere")
    func names() {
        #expect(excluded("/home/ann/.cache"))
        #expect(excluded("/srv/app/upload.tmp"))
        #expect(!excluded("/srv/app/upload.tmp.keep"))
        #expect(!excluded("/home/ann/.cache-old"))
    }

    @Test("a pattern starting with a slash matches the whole path, and * stays within one component")
    func absolutePaths() {
        #expect(excluded("/srv/app/logs"))
        #expect(!excluded("/other/srv/app/logs"))
        #expect(excluded("/var/lib/postgresql/cache"))
        #expect(!excluded("/var/lib/postgresql/15/cache"), "* does not cross a slash")
    }

    @Test("any other pattern matches the end of a path, whole components at a time")
    func pathEnds() {
        #expect(excluded("/src/app/build/main.o"))
        #expect(excluded("/build/main.o"))
        #expect(!excluded("/src/app/prebuild/main.o"), "a tail starts at a component boundary")
        #expect(!excluded("/src/app/build/sub/main.o"))
        #expect(!excluded("/src/app/build/main.c"))
    }

    @Test("an empty pattern leaves nothing out")
    func empty() {
        #expect(!ExcludeRules([""]).excludes(path: "/a/b", name: "b"))
        #expect(ExcludeRules([""]).patterns.isEmpty)
    }
}
