import AsyncHTTPClient

extension HTTPClient {
    /// The one HTTP client of a Zonal process: coordinator calls and watches, health probes, S3
    /// requests and the control API's callers share its event loops and connection pools.
    ///
    /// A connection that cannot be made fails its request after at most a second, never
    /// retried inside the client, so each caller's own policy decides whether to insist: the
    /// etcd client moves to its next endpoint, a probe fails, the S3 client backs off and
    /// retries. Every request carries its own deadline; TLS is set per request.
    public static let zonal: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(1)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}
