/// How the HTTP API behaves: who may call it and how much a request may carry.
public struct APIConfiguration: Sendable {
    /// The key every `/api/` request must send in its `apikey` header; nil serves without
    /// authentication (only with `engine-run serve --insecure-no-auth`).
    public var apiKey: String?
    /// The most work item ids one retry request may list.
    public var maxRetryIDs: Int
    /// The largest request body accepted, in bytes; larger ones get 413.
    public var maxBodyBytes: Int
    /// Work items per page when a request gives no `limit`, and the largest `limit` accepted.
    public var defaultPageLimit: Int
    public var maxPageLimit: Int
    /// How long a client may take over each part of a request, and how many may connect at once.
    public var connections: ConnectionLimits
    /// How often the server samples job totals for the activity charts (`engine-run serve`: every
    /// 30 s); nil, the default, takes no samples (an embedder may run its own ``ActivitySampler``).
    public var activitySampleInterval: Duration?

    public init(apiKey: String?, maxRetryIDs: Int = 1000, maxBodyBytes: Int = 256 * 1024,
                defaultPageLimit: Int = 100, maxPageLimit: Int = 1000, connections: ConnectionLimits = ConnectionLimits(),
                activitySampleInterval: Duration? = nil) {
        self.activitySampleInterval = activitySampleInterval
        self.apiKey = apiKey
        self.maxRetryIDs = maxRetryIDs
        self.maxBodyBytes = maxBodyBytes
        self.defaultPageLimit = defaultPageLimit
        self.maxPageLimit = maxPageLimit
        self.connections = connections
    }
}

/// Bounds on what a client's connection may hold: a slow or half-open client is closed, not kept
/// (each open connection costs memory for as long as it lasts).
public struct ConnectionLimits: Sendable, Equatable {
    /// From the connection's start (or the end of the previous response) to the request's last
    /// header line.
    public var headerTimeout: Duration
    /// From the request's head to the end of its body.
    public var bodyTimeout: Duration
    /// A connection with no request in progress is closed after this.
    public var idleTimeout: Duration
    /// Connections served at once; further ones wait in the listen backlog until one closes.
    public var maxConnections: Int

    public init(headerTimeout: Duration = .seconds(10), bodyTimeout: Duration = .seconds(30),
                idleTimeout: Duration = .seconds(60), maxConnections: Int = 512) {
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
    }
}
