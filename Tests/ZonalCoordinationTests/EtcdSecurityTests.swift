import Foundation
import Testing
import ZonalCore
import ZonalTesting

@testable import ZonalCoordination

/// A real etcd (Debian's etcd-server) with TLS, client certificates and authentication, as a
/// cluster across machines should run it, and Zonal's client configured from the topology.
/// (etcd 3.4's JSON gateway refuses every call when client certificates and authentication are
/// both on — "CommonName of client sending a request against gateway will be ignored" — so each
/// is tested on its own, with TLS.)
@Suite("etcd with TLS, client certificates and authentication", .serialized)
struct EtcdSecurityTests {
    /// A CA, a server certificate for `address` and a client certificate, made with openssl.
    struct Certificates {
        let ca, serverCertificate, serverKey, clientCertificate, clientKey: String

        init(address: String, in directory: TemporaryDirectory) async throws {
            ca = directory.file("ca.pem")
            serverCertificate = directory.file("server.pem")
            serverKey = directory.file("server.key")
            clientCertificate = directory.file("client.pem")
            clientKey = directory.file("client.key")
            let caKey = directory.file("ca.key")
            try await Self.openssl(
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=zonal-test-ca", "-keyout", caKey, "-out", ca,
                ], in: directory)
            for (certificate, key, name, extensions) in [
                (serverCertificate, serverKey, "etcd", "subjectAltName=IP:\(address)\nextendedKeyUsage=serverAuth,clientAuth"),
                (clientCertificate, clientKey, "zonal-client", "extendedKeyUsage=clientAuth"),
            ] {
                let request = directory.file("\(name).csr")
                let extensionsFile = try directory.write("\(name).ext", extensions + "\n")
                try await Self.openssl(
                    [
                        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=\(name)",
                        "-keyout", key, "-out", request,
                    ], in: directory)
                try await Self.openssl(
                    [
                        "x509", "-req", "-in", request, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "1",
                        "-extfile", extensionsFile, "-out", certificate,
                    ], in: directory)
                chmod(key, 0o600)
            }
        }

        static func openssl(_ arguments: [String], in directory: TemporaryDirectory) async throws {
            let run = try ProcessFixture(
                executable: "/usr/bin/openssl", arguments: arguments, outputPath: directory.file("openssl-\(UUID().uuidString.prefix(6)).out"))
            guard await run.waitForExit(timeout: .seconds(20)) == 0 else { throw FixtureError("openssl \(arguments.prefix(2)) failed: \(run.output)") }
        }
    }

    /// One etcd member serving clients over TLS on a loopback address of its own.
    struct SecureEtcd {
        let directory: TemporaryDirectory
        let certificates: Certificates
        let url: String
        let process: ProcessFixture

        init(clientCertificates: Bool) async throws {
            guard let binary = ["/usr/bin/etcd", "/usr/local/bin/etcd"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw FixtureError("etcd is not installed: run scripts/test")
            }
            directory = try TemporaryDirectory(prefix: "zonal-etcd-tls")
            let address = LoopbackAddress.random()
            certificates = try await Certificates(address: address, in: directory)
            url = "https://\(address):2379"
            process = try ProcessFixture(
                executable: binary,
                arguments: [
                    "--name", "tls", "--data-dir", directory.file("data"),
                    "--listen-client-urls", url, "--advertise-client-urls", url,
                    "--listen-peer-urls", "http://\(address):2380", "--initial-advertise-peer-urls", "http://\(address):2380",
                    "--initial-cluster", "tls=http://\(address):2380",
                    "--cert-file", certificates.serverCertificate, "--key-file", certificates.serverKey,
                ] + (clientCertificates ? ["--client-cert-auth", "--trusted-ca-file", certificates.ca] : []), outputPath: directory.file("etcd.log"))
            let started = await poll(timeout: .seconds(30)) { [self] in (try? await curl("kv/range", #"{"key":"AA=="}"#).status) == 200 }
            guard started != nil else {
                await process.stop()
                throw FixtureError("etcd with TLS did not start: \(process.output.suffix(1500))")
            }
        }

        /// curl over TLS, with the client certificate, as an operator would call etcd's gateway.
        func curl(_ path: String, _ body: String) async throws -> (status: Int, body: String) {
            try await Curl.run(
                [
                    "--cacert", certificates.ca, "--cert", certificates.clientCertificate, "--key", certificates.clientKey,
                    "-X", "POST", "\(url)/v3/\(path)", "-d", body,
                ], directory: directory)
        }

        /// The topology's coordinator section for this member, with `extra` keys.
        func settings(_ extra: String) throws -> CoordinatorSpec {
            let yaml = """
                name: t
                coordinator:
                  backend: etcd
                  endpoints: [\(url)]
                \(extra.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
                regions: [{ name: r, zones: [z] }]
                nodes: [{ name: n, zone: z, address: 127.0.0.1 }]
                """
            return try TopologyLoader.parse(yaml).coordinator
        }

        func stop() async {
            await process.stop()
            directory.remove()
        }
    }

    @Test("TLS with client certificates: with the CA, certificate and key from the topology the client works; without the certificate the handshake fails")
    func clientCertificates() async throws {
        let etcd = try await SecureEtcd(clientCertificates: true)
        defer { Task { await etcd.stop() } }
        let certificates = etcd.certificates
        let settings = try etcd.settings("tls: { ca: \(certificates.ca), certificate: \(certificates.clientCertificate), key: \(certificates.clientKey) }")
        let client = try EtcdCoordinator(settings: settings, token: nil)
        let revision = try await client.put("/zonal/secure", "yes")
        #expect(try await client.get("/zonal/secure")?.modRevision == revision)
        let lease = try await client.grantLease(ttl: .seconds(5))
        #expect(try await client.renewLease(lease.id) == .seconds(5))

        var noCertificate = settings
        noCertificate.tls?.certificate = nil
        noCertificate.tls?.key = nil
        await #expect(throws: CoordinatorError.self, "no client certificate: the handshake fails") {
            try await EtcdCoordinator(settings: noCertificate, token: nil).put("/zonal/x", "no")
        }
        chmod(certificates.clientKey, 0o644)
        #expect("a client key others can read is refused") {
            try EtcdCoordinator(settings: settings, token: nil)
        } throws: { error in
            "\(error)".contains("lets other users read it")
        }
        #expect(try await client.get("/zonal/x") == nil, "nothing was written by the refused clients")
    }

    @Test("TLS with etcd authentication: user and password file from the topology work; no user or a wrong password is refused with the reason")
    func authentication() async throws {
        let etcd = try await SecureEtcd(clientCertificates: false)
        defer { Task { await etcd.stop() } }
        for (path, body) in [
            ("auth/user/add", #"{"name":"root","password":"s3cret pass"}"#), ("auth/role/add", #"{"name":"root"}"#),
            ("auth/user/grant", #"{"user":"root","role":"root"}"#), ("auth/enable", "{}"),
        ] {
            let answer = try await etcd.curl(path, body)
            try #require(answer.status == 200, "\(path): \(answer.status) \(answer.body)")
        }
        let passwordFile = try etcd.directory.writePrivate("etcd-password", "s3cret pass\n")
        let settings = try etcd.settings("user: root\npassword_file: \(passwordFile)\ntls: { ca: \(etcd.certificates.ca) }")
        let client = try EtcdCoordinator(settings: settings, token: nil)
        let revision = try await client.put("/zonal/secure", "yes")
        #expect(try await client.get("/zonal/secure")?.modRevision == revision)

        var unauthenticated = settings
        unauthenticated.user = nil
        unauthenticated.passwordFile = nil
        await #expect(throws: CoordinatorError.self, "no user: refused") {
            try await EtcdCoordinator(settings: unauthenticated, token: nil).put("/zonal/x", "no")
        }
        var wrong = settings
        wrong.passwordFile = try etcd.directory.writePrivate("wrong-password", "guess\n")
        await #expect("a wrong password names the refusal") {
            try await EtcdCoordinator(settings: wrong, token: nil).put("/zonal/x", "no")
        } throws: { error in
            "\(error)".contains("refused user root") && "\(error)".contains("authentication failed")
        }
        chmod(passwordFile, 0o644)
        #expect("a password file others can read is refused") {
            try EtcdCoordinator(settings: settings, token: nil)
        } throws: { error in
            "\(error)".contains("lets other users read it")
        }
        #expect(try await client.get("/zonal/x") == nil, "nothing was written by the refused clients")
    }

    @Test(
        "the topology's etcd security settings are checked with the line",
        arguments: [
            ("backend: embedded\n  user: root", "are for `backend: etcd`"),
            ("backend: etcd\n  endpoints: [https://127.0.0.1:2379]\n  user: root", "needs both `user` and `password_file`"),
            ("backend: etcd\n  endpoints: [http://127.0.0.1:2379]\n  tls: { ca: /ca.pem }", "must be https://"),
            ("backend: etcd\n  endpoints: [https://127.0.0.1:2379]\n  tls: { ca: /ca.pem, certificate: /c.pem }", "both `tls.certificate` and `tls.key`"),
        ])
    func validation(coordinator: String, problem: String) {
        let yaml = "name: t\ncoordinator:\n  \(coordinator)\nregions: [{ name: r, zones: [z] }]\nnodes: [{ name: n, zone: z, address: 127.0.0.1 }]\n"
        #expect {
            try TopologyLoader.parse(yaml)
        } throws: { error in
            "\(error)".contains(problem)
        }
    }
}
