import Foundation

/// How a read of a job's items goes through the store in spec order: `along` the conditions an index
/// answers in position order (the status; for failed items of one error kind, the kind too, on the
/// partial index of failed items by job, kind and position), `narrowing` those checked on each item
/// walked (error text, and what else a retry filter asks). The pages of the item list and the steps
/// of a bulk retry are built from it in both stores' dialects.
///
/// Conditions are on `work_items` aliased `w`, each prefixed with " AND ". The statement binds the
/// job and the cursor position first; the walk's values follow, `along`'s before `narrowing`'s (a
/// statement with only `along` binds only its values): `placeholder(n)` writes the n-th parameter
/// (SQLite `?`, PostgreSQL `$n`), and `contains(column, parameter)` is the dialect's case-insensitive
/// substring test. The status is written as a literal (a known enum value): a partial index is only
/// used for a literal.
package struct ItemWalk: Sendable {
    /// The partial index of failed items by job, error kind and position (schema 008 / PostgreSQL 004).
    package static let kindIndex = "work_items_failed_by_job_kind"

    /// Along the failed items of one kind (SQLite needs `INDEXED BY` ``kindIndex``: it would as soon
    /// walk every failed item and test its kind).
    package let byKind: Bool
    package let along: String
    package let alongValues: [SQLValue]
    package let narrowing: String
    package let narrowingValues: [SQLValue]
    /// The table walked, naming the kind index where the dialect needs it (SQLite).
    package let source: String
    /// The job and the cursor: `w.job_id` and `w.position >`, the statement's first two parameters.
    private let head: String

    /// Only failed items have an error kind (every other transition clears it), so a kind with no
    /// status, or with `failed`, walks the failed items of that kind, and with another status
    /// matches nothing (a constant false condition: neither store walks anything for it).
    package init(status: WorkItemStatus?, errorKind: ErrorKind?, errorContains: String?, phase: Phase? = nil,
                 failedSince: Date? = nil, namesIndex: Bool, placeholder: (Int) -> String,
                 contains: (_ column: String, _ parameter: String) -> String) {
        var values: [SQLValue] = []
        func bind(_ value: SQLValue) -> String {
            values.append(value)
            return placeholder(2 + values.count)
        }
        var along = ""
        var narrowing = ""
        if let errorKind, status == nil || status == .failed {
            byKind = true
            along = " AND w.status = 'failed' AND w.error_kind = \(bind(.text(errorKind.rawValue)))"
        } else {
            byKind = false
            if let status { along = " AND w.status = '\(status.rawValue)'" }
            // Items of another status have no kind: nothing matches, known without walking them.
            if errorKind != nil { along += " AND 0 = 1" }
        }
        let alongCount = values.count
        if let errorContains { narrowing += " AND " + contains("w.last_error", bind(.text(errorContains))) }
        if let phase { narrowing += " AND w.phase = \(bind(.text(phase.rawValue)))" }
        if let failedSince { narrowing += " AND w.updated_at >= \(bind(.real(failedSince.timeIntervalSince1970)))" }
        self.along = along
        source = byKind && namesIndex ? "work_items w INDEXED BY \(Self.kindIndex)" : "work_items w"
        head = "w.job_id = \(placeholder(1)) AND w.position > \(placeholder(2))"
        self.narrowing = narrowing
        alongValues = Array(values.prefix(alongCount))
        narrowingValues = Array(values.dropFirst(alongCount))
    }

    /// The statement that finds where a look of `scanLimit` items from the cursor ends (the position
    /// of its last item), bound with the job, the cursor and `alongValues`; nil when every item
    /// walked matches, so a read needs no bound.
    package func lookEnd(_ scanLimit: Int) -> String? {
        narrowing.isEmpty ? nil : """
            SELECT w.position FROM \(source) WHERE \(head)\(along) ORDER BY w.position LIMIT 1 OFFSET \(scanLimit - 1)
            """
    }

    /// The conditions of a read along the walk, up to `end` (a `lookEnd` position) when its look is
    /// bounded; bound with the job, the cursor, `alongValues` and `narrowingValues`.
    package func conditions(upTo end: Int64?) -> String {
        head + (end.map { " AND w.position <= \($0)" } ?? "") + along + narrowing
    }

    /// The items a page narrowed by error text looks at, at most (see `itemsPage`).
    package static let pageScanLimit = 10_000
    /// The items a bulk retry's step looks at, at most: a filter matching few of them (a rare error
    /// text) goes on in further steps instead of holding the write lock while it walks every failed item.
    package static let stepScanLimit = 20_000
}
