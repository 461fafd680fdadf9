import Crypto
import Foundation
import Synchronization
import ZonalCore

/// An opened repository: its key, settings and the index of every blob, read at opening and
/// brought up to date when a lock is taken (``lock(exclusive:)``). Packs,
/// index files and snapshots are only ever added (prune, later, rewrites whole files), so what
/// a crashed backup left is still a valid repository.
public final class Repository: Sendable {
    /// Where a blob is stored.
    public struct Location: Sendable, Hashable {
        public var pack: String
        public var blob: PackedBlob
    }

    public let store: any RepositoryStore
    public let parameters: RepositoryParameters
    public let codec: BlobCodec
    private let index = Mutex(IndexState())

    /// The index in memory, and which index files it was read from.
    private struct IndexState {
        var locations: [BlobID: Location] = [:]
        var files: Set<String> = []

        mutating func record(_ packs: [IndexFile.Pack], from file: String) {
            files.insert(file)
            for pack in packs { for blob in pack.blobs { locations[blob.id] = Location(pack: pack.pack, blob: blob) } }
        }
    }

    /// Creates a repository at `location` (a directory path, or `s3:…`; see ``RepositoryLocation``).
    @discardableResult
    public static func initialize(at location: String, password: String, parameters: RepositoryParameters? = nil, scryptRounds: Int = 1 << 15)
        async throws(BackupError) -> Repository
    {
        try await initialize(in: try RepositoryLocation.store(location), password: password, parameters: parameters, scryptRounds: scryptRounds)
    }

    /// Creates a repository in `store` (empty or missing) with `password`.
    /// `scryptRounds` is scrypt's N for the password's key file (default 2^15).
    @discardableResult
    public static func initialize(in store: any RepositoryStore, password: String, parameters: RepositoryParameters? = nil, scryptRounds: Int = 1 << 15)
        async throws(BackupError) -> Repository
    {
        if try await store.exists("config") { throw .alreadyExists(store.location) }
        guard try await store.isEmpty() else { throw .invalid("\(store.location) is not empty; a repository needs a place of its own") }
        guard !password.isEmpty else { throw .invalid("the password is empty") }
        try await store.prepare()
        let key = MasterKey.random()
        let parameters = parameters ?? RepositoryParameters(id: SHA256.hash(data: Array(UUID().uuidString.utf8)).hex)
        if let problem = parameters.chunker.problem { throw .invalid(problem) }
        let keyFile = KeyFile.make(for: key, password: password, rounds: scryptRounds)
        try await store.write("keys/\(SHA256.hash(data: Array(keyFile.salt.utf8)).hex)", Array(try Self.json(keyFile)))
        try await store.write("config", key.seal(Array(try Self.json(parameters))))
        return Repository(store: store, parameters: parameters, key: key)
    }

    /// Whether `location` holds a repository (its config file), without opening it.
    public static func exists(at location: String) async throws(BackupError) -> Bool {
        try await RepositoryLocation.store(location).exists("config")
    }

    /// Opens the repository at `location` (a directory path, or `s3:…`) with `password`.
    public static func open(at location: String, password: String) async throws(BackupError) -> Repository {
        try await open(try RepositoryLocation.store(location), password: password)
    }

    /// Opens the repository in `store` with `password` and loads its index.
    public static func open(_ store: any RepositoryStore, password: String) async throws(BackupError) -> Repository {
        guard try await store.exists("config") else { throw .notARepository(store.location) }
        var key: MasterKey?
        for file in try await store.list("keys") {
            guard let file = try? await JSONDecoder.zonal().decode(KeyFile.self, from: Data(try store.read("keys/\(file.name)"))) else { continue }
            if let unlocked = try? file.unlock(password: password) {
                key = unlocked
                break
            }
        }
        guard let key else { throw .wrongPassword }
        let parameters: RepositoryParameters = try await decode(key.open(try store.read("config"), what: "the config file"), what: "the config file")
        guard parameters.version <= RepositoryParameters.newestVersion else {
            throw .invalid(
                "the repository has format version \(parameters.version); this Zonal reads versions 1 to \(RepositoryParameters.newestVersion) (upgrade Zonal)")
        }
        let repository = Repository(store: store, parameters: parameters, key: key)
        try await repository.loadIndex()
        return repository
    }

    private init(store: any RepositoryStore, parameters: RepositoryParameters, key: MasterKey) {
        self.store = store
        self.parameters = parameters
        self.codec = BlobCodec(key: key, level: parameters.compressionLevel)
    }

    public var key: MasterKey { codec.key }

    /// Takes the repository's lock (shared for adding data, exclusive for deleting it), then
    /// reads what the index gained since (or all of it, after a prune): a prune or backup by another process may have ended between this
    /// repository's opening and the lock, and deduplicating against (or pruning by) an index
    /// from before it would reference deleted data or delete referenced data.
    /// Runs `body` holding the repository's lock (shared or exclusive; none when `enabled` is
    /// false, for a repository that cannot be written to), released after it whatever happens.
    public func withLock<T>(exclusive: Bool, enabled: Bool = true, _ body: () async throws(BackupError) -> T) async throws(BackupError) -> T {
        let lock = enabled ? try await lock(exclusive: exclusive) : nil
        do {
            let result = try await body()
            await lock?.release()
            return result
        } catch {
            await lock?.release()
            throw error
        }
    }

    public func lock(exclusive: Bool) async throws(BackupError) -> RepositoryLock {
        let lock = try await RepositoryLock.acquire(store, exclusive: exclusive)
        do {
            try await loadIndex()
        } catch {
            await lock.release()
            throw error
        }
        return lock
    }

    /// Reads the index files not read yet (all of them at opening; at a lock, those other
    /// processes wrote since). When a file read before is gone, a prune replaced the index, and
    /// it is read anew.
    private func loadIndex() async throws(BackupError) {
        let present = try await Set(store.list("index").map(\.name))
        let known = index.withLock { $0.files }
        let replaced = !known.isSubset(of: present)
        // Decoding index files is most of opening a repository: one core each.
        let read = try await (replaced ? present : present.subtracting(known)).sorted().concurrentMap(
            width: ProcessInfo.processInfo.activeProcessorCount
        ) { name throws(BackupError) -> (name: String, file: IndexFile) in
            (name, try await self.readSealed("index/\(name)", what: "index file \(name)"))
        }
        index.withLock { state in
            if replaced { state = IndexState() }
            for (name, file) in read { state.record(file.packs, from: name) }
        }
    }

    public func location(of id: BlobID) -> Location? {
        index.withLock { $0.locations[id] }
    }

    public var blobCount: Int { index.withLock { $0.locations.count } }

    /// The blobs the index places in each pack.
    public func blobsByPack() -> [String: [BlobID]] {
        index.withLock { state in Dictionary(grouping: state.locations.keys) { state.locations[$0]!.pack } }
    }

    /// Every pack the index names.
    public var indexedPacks: Set<String> { index.withLock { Set($0.locations.values.map(\.pack)) } }

    /// Records the blobs of packs just written, in memory and in a new index file.
    func addToIndex(_ packs: [IndexFile.Pack]) async throws(BackupError) {
        guard !packs.isEmpty else { return }
        let name = Self.randomName()
        try await writeSealed(IndexFile(packs: packs), as: "index/\(name)")
        index.withLock { $0.record(packs, from: name) }
    }

    /// Makes `packs` the whole index: one new index file, then the in-memory index. The caller
    /// removes the old index files afterwards.
    func replaceIndex(with packs: [IndexFile.Pack]) async throws(BackupError) {
        let name = Self.randomName()
        try await writeSealed(IndexFile(packs: packs), as: "index/\(name)")
        index.withLock { state in
            state = IndexState()
            state.record(packs, from: name)
        }
    }

    /// Removes a snapshot (its data stays until a prune).
    public func forget(_ snapshot: String) async throws(BackupError) {
        try await store.remove("snapshots/\(snapshot)")
    }

    /// Applies `retention` to the snapshots: forgets those it does not keep (unless `dryRun`)
    /// and returns every snapshot's decision, newest first. Their data goes at the next prune.
    public func forget(under retention: Retention, dryRun: Bool = false, now: Date = Date()) async throws(BackupError) -> [Retention.Decision] {
        let decisions = retention.apply(to: try await snapshots().map { ($0.id, $0.time) }, now: now)
        if !dryRun {
            for decision in decisions where !decision.keep { try await forget(decision.snapshot) }
        }
        return decisions
    }

    /// The plain content of a blob.
    public func load(_ id: BlobID) async throws(BackupError) -> [UInt8] {
        guard let location = location(of: id) else { throw .corrupt("blob \(id) is in no index") }
        return try await load(id, at: location)
    }

    /// The plain content of blob `id`, stored at `location` (already looked up in the index).
    func load(_ id: BlobID, at location: Location) async throws(BackupError) -> [UInt8] {
        let stored = try await store.read(Self.packName(location.pack), offset: location.blob.offset, length: location.blob.length)
        return try open(stored, as: id, from: location.blob, in: location.pack)
    }

    /// The plain content of blob `id` from its `stored` bytes, checked against its id.
    func open(_ stored: [UInt8], as id: BlobID, from blob: PackedBlob, in pack: String) throws(BackupError) -> [UInt8] {
        let plain = try codec.decode(stored, length: blob.plainLength, what: "blob \(id) in pack \(pack.prefix(12))")
        guard key.blobID(of: plain) == id else { throw .corrupt("blob \(id) in pack \(pack.prefix(12)) does not match its id") }
        return plain
    }

    public func loadTree(_ id: BlobID) async throws(BackupError) -> Tree {
        let tree: Tree = try await Self.decode(try load(id), what: "tree \(id)")
        return tree.inFileNameForm
    }

    public func snapshots() async throws(BackupError) -> [Snapshot] {
        var found: [Snapshot] = []
        for stored in try await store.list("snapshots") {
            try await found.append(readSealed("snapshots/\(stored.name)", what: "snapshot \(stored.name)"))
        }
        return found.sorted { $0.time < $1.time }
    }

    /// The snapshot whose id starts with `prefix` (or the newest for `latest`).
    public func snapshot(_ prefix: String) async throws(BackupError) -> Snapshot {
        let all = try await snapshots()
        if prefix == "latest", let newest = all.last { return newest }
        let matching = all.filter { $0.id.hasPrefix(prefix) }
        guard matching.count == 1 else {
            throw matching.isEmpty
                ? .notFound("no snapshot \(prefix); `zonal backup snapshots` lists them")
                : .invalid("\(prefix) names \(matching.count) snapshots; give more of the id")
        }
        return matching[0]
    }

    /// The snapshots `prefixes` name (each as ``snapshot(_:)`` finds it), in that order; every
    /// snapshot when none is named.
    public func snapshots(named prefixes: [String]) async throws(BackupError) -> [Snapshot] {
        guard !prefixes.isEmpty else { return try await snapshots() }
        var chosen: [Snapshot] = []
        for prefix in prefixes { chosen.append(try await snapshot(prefix)) }
        return chosen
    }

    func save(_ snapshot: Snapshot) async throws(BackupError) {
        try await writeSealed(snapshot, as: "snapshots/\(snapshot.id)")
    }

    static func packName(_ pack: String) -> String { "data/\(pack.prefix(2))/\(pack)" }

    static func randomName() -> String {
        SHA256.hash(data: (0..<32).map { _ in UInt8.random(in: 0...255) }).hex
    }

    func readSealed<T: Decodable>(_ name: String, what: String) async throws(BackupError) -> T {
        try await Self.decode(try key.open(try store.read(name), what: what), what: what)
    }

    func writeSealed(_ value: some Encodable, as name: String) async throws(BackupError) {
        try await store.write(name, key.seal(Array(try Self.json(value))))
    }

    static func json(_ value: some Encodable) throws(BackupError) -> Data {
        do { return try JSONEncoder.zonal().encode(value) } catch { throw .invalid("cannot encode: \(error)") }
    }

    static func decode<T: Decodable>(_ bytes: [UInt8], what: String) throws(BackupError) -> T {
        do { return try JSONDecoder.zonal().decode(T.self, from: Data(bytes)) } catch { throw .corrupt("\(what) does not decode: \(error)") }
    }
}
