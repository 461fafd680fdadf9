import Metrics
import Synchronization

/// The Prometheus series of one listener and the servers behind it: requests, errors,
/// latency, active connections, retries. Series objects are made once per server and kept,
/// so the request path only increments.
final class ProxyMetrics: Sendable {
    struct ServerSeries: Sendable {
        let requests: Counter
        let errors: Counter
        let retries: Counter
        let latency: Metrics.Timer
        let active: Meter
    }

    let listener: String
    let pool: String
    private let listenerRequests: Counter
    private let listenerErrors: Counter
    private let listenerConnections: Meter
    private let listenerLatency: Metrics.Timer
    private let series = Mutex<[String: ServerSeries]>([:])

    init(listener: String, pool: String) {
        self.listener = listener
        self.pool = pool
        let dimensions = [("listener", listener), ("pool", pool)]
        listenerRequests = Counter(label: "zonal_balancer_requests_total", dimensions: dimensions)
        listenerErrors = Counter(label: "zonal_balancer_errors_total", dimensions: dimensions)
        listenerConnections = Meter(label: "zonal_balancer_active_connections", dimensions: dimensions)
        listenerLatency = Metrics.Timer(label: "zonal_balancer_request_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
    }

    func server(_ id: String) -> ServerSeries {
        series.withLock { series in
            if let existing = series[id] { return existing }
            let dimensions = [("pool", pool), ("server", id)]
            let made = ServerSeries(
                requests: Counter(label: "zonal_balancer_server_requests_total", dimensions: dimensions),
                errors: Counter(label: "zonal_balancer_server_errors_total", dimensions: dimensions),
                retries: Counter(label: "zonal_balancer_server_retries_total", dimensions: dimensions),
                latency: Metrics.Timer(label: "zonal_balancer_server_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds),
                active: Meter(label: "zonal_balancer_server_active", dimensions: dimensions)
            )
            series[id] = made
            return made
        }
    }

    func clientConnected() { listenerConnections.increment() }
    func clientDisconnected() { listenerConnections.decrement() }

    /// A request answered: by a server (`server` set) or by the balancer itself.
    func requestFinished(server: String?, status: Int, nanoseconds: Int64) {
        listenerRequests.increment()
        listenerLatency.recordNanoseconds(nanoseconds)
        let failed = status >= 500
        if failed { listenerErrors.increment() }
        guard let server else { return }
        let series = self.server(server)
        series.requests.increment()
        series.latency.recordNanoseconds(nanoseconds)
        if failed { series.errors.increment() }
    }

    func retried(from server: String) {
        self.server(server).retries.increment()
    }

    /// A TCP connection to `server` opened (counted as a request) or failed to open.
    func serverConnected(_ server: String) {
        let series = self.server(server)
        series.requests.increment()
        series.active.increment()
    }

    func serverDisconnected(_ server: String) {
        self.server(server).active.decrement()
    }

    func serverConnectFailed(_ server: String) {
        let series = self.server(server)
        series.errors.increment()
        series.retries.increment()
    }
}
