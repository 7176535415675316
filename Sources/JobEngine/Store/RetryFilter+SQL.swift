import Foundation

extension RetryFilter {
    /// The walks that together cover what the filter matches, one per status (failed, then
    /// cancelled), each along an index in position order: two statuses walked in one statement
    /// cannot take their order from an index and were sorted at every step. Only failed items have
    /// an error kind, so a filter of a kind walks no cancelled item. Dialect as in ``ItemWalk``.
    package func walks(namesIndex: Bool, placeholder: (Int) -> String, contains: (_ column: String, _ parameter: String) -> String)
        -> [ItemWalk]
    {
        retryableStatuses.compactMap { status in
            if status != .failed && errorKind != nil { return nil }
            return ItemWalk(status: status, errorKind: errorKind, errorContains: errorContains, phase: phase,
                            failedSince: failedSince, namesIndex: namesIndex, placeholder: placeholder, contains: contains)
        }
    }
}
