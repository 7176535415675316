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

    public init(apiKey: String?, maxRetryIDs: Int = 1000, maxBodyBytes: Int = 256 * 1024,
                defaultPageLimit: Int = 100, maxPageLimit: Int = 1000) {
        self.apiKey = apiKey
        self.maxRetryIDs = maxRetryIDs
        self.maxBodyBytes = maxBodyBytes
        self.defaultPageLimit = defaultPageLimit
        self.maxPageLimit = maxPageLimit
    }
}
