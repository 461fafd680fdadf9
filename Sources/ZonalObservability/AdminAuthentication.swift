import Foundation
import Hummingbird
import NIOCore
import Synchronization
import ZonalCore

/// Where a server finds the admin token it checks requests against: a fixed token, or a token
/// file that is read again whenever it changes, so replacing the file rotates the token without
/// a restart.
public final class AdminTokenSource: Sendable {
    private enum Origin {
        case fixed(AdminToken?)
        case file(String)
    }

    private struct Cache {
        var stamp: FileStamp?
        var token: AdminToken?
    }

    private let origin: Origin
    private let cache = Mutex(Cache())

    /// Always `token`; nil means no token is configured, and every protected request is refused.
    public init(fixed token: AdminToken?) {
        origin = .fixed(token)
    }

    /// The token in `path`, re-read when the file changes (another inode, size, mode or time).
    public init(file path: String) {
        origin = .file(path)
    }

    /// The token of this process: `ZONAL_TOKEN`, else the file `ZONAL_TOKEN_FILE` names (which
    /// `zonal up` sets for its children), else none.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> AdminTokenSource {
        if let secret = environment[AdminToken.environmentKey] { return AdminTokenSource(fixed: try? AdminToken(secret: secret)) }
        if let file = environment[AdminToken.fileEnvironmentKey] { return AdminTokenSource(file: file) }
        return AdminTokenSource(fixed: nil)
    }

    /// The token now in force, or nil when there is none (or its file became unreadable or
    /// readable by others, which is treated as no token: fail closed).
    public var current: AdminToken? {
        switch origin {
        case .fixed(let token):
            return token
        case .file(let path):
            let stamp = FileStamp(path: path)
            return cache.withLock { cache in
                if let stamp, cache.stamp == stamp { return cache.token }
                cache.stamp = stamp
                cache.token = stamp == nil ? nil : try? AdminToken.load(file: path)
                return cache.token
            }
        }
    }
}

/// Identifies one version of a file cheaply: its inode (a file renamed into place is another),
/// size, mode and modification time.
private struct FileStamp: Equatable {
    var inode: UInt64
    var size: Int
    var mode: UInt32
    var modified: timespec

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        inode = UInt64(info.st_ino)
        size = Int(info.st_size)
        mode = UInt32(info.st_mode)
        modified = info.st_mtim
    }

    static func == (lhs: FileStamp, rhs: FileStamp) -> Bool {
        lhs.inode == rhs.inode && lhs.size == rhs.size && lhs.mode == rhs.mode
            && lhs.modified.tv_sec == rhs.modified.tv_sec && lhs.modified.tv_nsec == rhs.modified.tv_nsec
    }
}

/// The request context of every Zonal API: Hummingbird's basic context plus the address of
/// the peer, which decides whether `/metrics` is open without the token.
public struct APIRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// Refuses every request without the admin token (401 with a one-line reason), except those
/// `isOpen` lets through (health endpoints that checkers and balancers poll) and `GET /metrics`
/// from the peers ``MetricsAccess`` admits.
///
/// Accepts `Authorization: Bearer <token>` and, as etcd's gateway does, the bare token.
public struct AdminTokenMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    public let tokens: AdminTokenSource
    public let metrics: MetricsAccess
    public let isOpen: @Sendable (Request) -> Bool
    /// Other credentials derived from the admin token that this server accepts (the
    /// coordinator's login sessions), given what was presented and the admin token in force.
    public let acceptsDerived: @Sendable (Substring, AdminToken) -> Bool

    public init(
        tokens: AdminTokenSource, metrics: MetricsAccess = .loopback,
        isOpen: @escaping @Sendable (Request) -> Bool = AdminTokenMiddleware.health,
        acceptsDerived: @escaping @Sendable (Substring, AdminToken) -> Bool = { _, _ in false }
    ) {
        self.tokens = tokens
        self.metrics = metrics
        self.acceptsDerived = acceptsDerived
        self.isOpen = isOpen
    }

    /// `GET /health` stays open; everything else wants the token.
    public static func health(_ request: Request) -> Bool {
        request.method == .get && request.uri.path == "/health"
    }

    /// Every route stays open but `/metrics`, which follows the ``MetricsAccess``: for a port
    /// that clients use, where only the metrics are an operator's.
    public static func allButMetrics(_ request: Request) -> Bool {
        request.uri.path != "/metrics"
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if isOpen(request) || (request.method == .get && request.uri.path == "/metrics" && metrics.admitsWithoutToken(peer: context.remoteAddress?.ipAddress)) {
            return try await next(request, context)
        }
        guard let token = tokens.current else {
            return Self.refusal("no admin token is configured for this server (set ZONAL_TOKEN_FILE or run it under zonal up)")
        }
        guard let presented = request.headers[.authorization] else {
            return Self.refusal("this API needs Authorization: Bearer <admin token> (zonal commands read it from the state directory's admin-token)")
        }
        let secret = presented.hasPrefix("Bearer ") ? presented.dropFirst("Bearer ".count) : Substring(presented)
        guard token.matches(secret) || acceptsDerived(secret, token) else { return Self.refusal("the admin token does not match") }
        return try await next(request, context)
    }

    private static func refusal(_ reason: String) -> Response {
        Response.json(status: .unauthorized, ["error": reason])
    }
}
