import NIOCore
import NIOPosix
import ZonalCore

/// Healthy when a TCP connection to the address opens; the connection is closed at once.
public struct TCPProbe: HealthProbe {
    public var host: String
    public var port: Int
    public var timeout: Duration

    public init(host: String, port: Int, timeout: Duration) {
        self.host = host
        self.port = port
        self.timeout = timeout
    }

    public func check() async -> ProbeOutcome {
        let started = ContinuousClock.now
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.nanoseconds(timeout.nanoseconds))
                .connect(host: host, port: port).get()
            try? await channel.close()
            return .success(detail: "connected in \((ContinuousClock.now - started).zonalDescription)")
        } catch {
            return .failure(reason: "connect to \(host):\(port): \(Self.describe(error))")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let ioError = error as? IOError { return ioError.description }
        if error is ChannelError { return "\(error)" }
        return String(describing: error)
    }
}
