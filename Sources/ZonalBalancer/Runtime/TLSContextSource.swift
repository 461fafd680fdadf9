import Foundation
import NIOSSL
import Synchronization
import ZonalCore

/// The TLS context of an HTTPS listener, made from its PEM files and made again when they
/// change, so a renewed certificate is served without a restart. Connections already open keep
/// the context they started with; a renewal that does not load leaves the old one serving.
final class TLSContextSource: Sendable {
    /// What identifies one version of the files: modification times and sizes.
    private struct Stamp: Equatable, Sendable {
        var certificate: [Double]
        var key: [Double]
    }

    let files: BalancerSpec.TLSFiles
    /// The context offering HTTP/1.1 only, and the one offering `h2` first.
    private struct Contexts: Sendable {
        var http1: NIOSSLContext
        var http2: NIOSSLContext

        init(_ files: BalancerSpec.TLSFiles) throws(TLSLoadError) {
            http1 = try TLSContextSource.makeContext(files, protocols: ["http/1.1"])
            http2 = try TLSContextSource.makeContext(files, protocols: ["h2", "http/1.1"])
        }
    }

    private let state: Mutex<(contexts: Contexts, stamp: Stamp)>

    init(files: BalancerSpec.TLSFiles) throws(TLSLoadError) {
        self.files = files
        let stamp = Self.stamp(files)
        state = Mutex((try Contexts(files), stamp))
    }

    /// The context to serve a new connection with; `http2` offers `h2` in ALPN before `http/1.1`.
    func context(http2: Bool) -> NIOSSLContext {
        state.withLock { http2 ? $0.contexts.http2 : $0.contexts.http1 }
    }

    /// Loads the files again if they changed since the last load; returns whether the served
    /// certificate changed. Throws (and keeps serving the old one) when the new files are bad.
    @discardableResult
    func refresh() throws(TLSLoadError) -> Bool {
        let stamp = Self.stamp(files)
        guard stamp != state.withLock({ $0.stamp }) else { return false }
        let contexts = try Contexts(files)
        state.withLock { $0 = (contexts, stamp) }
        return true
    }

    fileprivate static func makeContext(_ files: BalancerSpec.TLSFiles, protocols: [String]) throws(TLSLoadError) -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(files.certificate) } catch {
            throw TLSLoadError("cannot read the certificate \(files.certificate): \(error)")
        }
        guard !chain.isEmpty else { throw TLSLoadError("\(files.certificate) holds no PEM certificate") }
        let key: NIOSSLPrivateKey
        if case .failure(let error) = SecretFile.checkPrivate(files.key) { throw TLSLoadError("refusing the private key \(error)") }
        do { key = try NIOSSLPrivateKey(file: files.key, format: .pem) } catch {
            throw TLSLoadError("cannot read the private key \(files.key): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = protocols
        do { return try NIOSSLContext(configuration: configuration) } catch {
            throw TLSLoadError("the certificate \(files.certificate) and key \(files.key) do not make a TLS context (do they belong together?): \(error)")
        }
    }

    private static func stamp(_ files: BalancerSpec.TLSFiles) -> Stamp {
        func attributes(_ path: String) -> [Double] {
            guard let info = try? FileManager.default.attributesOfItem(atPath: path) else { return [] }
            return [(info[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0, Double((info[.size] as? Int) ?? 0)]
        }
        return Stamp(certificate: attributes(files.certificate), key: attributes(files.key))
    }
}

public struct TLSLoadError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
