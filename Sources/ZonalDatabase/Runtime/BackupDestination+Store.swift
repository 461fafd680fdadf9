import Foundation
import ZonalBackup
import ZonalCore

extension BackupDestination {
    /// The destination's store and catalog, with the keys read now: a store's root secret may
    /// appear only after the agent started.
    public func catalog() throws(DatabaseError) -> BackupCatalog {
        do { return BackupCatalog(store: try RepositoryLocation.store(location, environment: try environment())) } catch {
            throw .backup("backup target \(location): \(error)")
        }
    }

    /// The `AWS_*` variables the store is opened with.
    func environment() throws(BackupError) -> [String: String] {
        switch credentials {
        case .none, .environment:
            return ProcessInfo.processInfo.environment
        case .file(let path):
            return try S3Credentials.environment(file: path)
        case .storeSecret(let file, let region):
            let secret: String
            do { secret = try SecretFile.read(file) } catch { throw .invalid("the object store's root key is not there yet: \(error)") }
            return S3Credentials(zonalStoreSecret: secret).environment(region: region)
        }
    }

    /// The credentials file PostgreSQL's archive and restore commands read, as its text; nil for
    /// a directory. The server's account gets a file of its own, so that no key reaches it
    /// through an environment its queries could read.
    func serverCredentialsText() throws(BackupError) -> String? {
        guard !isDirectory else { return nil }
        let environment = try environment()
        return try S3Credentials(environment: environment).environmentFileText(region: S3Credentials.region(environment: environment))
    }

    /// `--archive LOCATION [--credentials-file FILE]` of `zonal db archive-wal` and `restore-wal`.
    func commandArguments(credentialsFile: String) -> String {
        "--archive \"\(location)\"" + (isDirectory ? "" : " --credentials-file \"\(credentialsFile)\"")
    }

    /// Writes the server's credentials file at `path` when its text changed; returns whether it
    /// is in place (false while the keys are not available yet).
    @discardableResult
    func writeServerCredentials(to path: String, owner: FileOwner?) -> Bool {
        guard let text = try? serverCredentialsText() else { return isDirectory }
        if let existing = try? DurableFile.readAll(path), existing == Array(text.utf8) { return true }
        return (try? DurableFile.write(Array(text.utf8), to: path, permissions: 0o600, owner: owner)) != nil
    }
}
