import ArgumentParser
import ZonalCore
import ZonalObjects

struct ObjectsCredentialsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credentials",
        abstract: "Print the root access key of an object store, as environment variables for S3 clients.",
        discussion: "The secret lives in <state_dir>/<store>/s3.secret (owner-only), made by the first S3 front end. Use: eval \"$(zonal objects credentials)\""
    )

    @OptionGroup var objects: ObjectsServiceOptions

    func run() async throws {
        let (topology, service) = try objects.resolve(kind: "object-store")
        let credentials: StoreCredentials
        do {
            credentials = try StoreCredentials.load(file: StoreCredentials.file(store: service.name, stateDirectory: objects.stateDirectory(topology)))
        } catch { throw CommandFailure("\(error) (the first S3 front end creates it: is `zonal up` running?)") }
        print("export AWS_ACCESS_KEY_ID=\(credentials.accessKeyID)")
        print("export AWS_SECRET_ACCESS_KEY=\(credentials.secretAccessKey)")
    }
}
