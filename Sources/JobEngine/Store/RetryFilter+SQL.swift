import Foundation

extension RetryFilter {
    /// The filter's conditions on `work_items` (besides the job, which the caller walks), joined by
    /// AND, each value bound: `placeholder(n)` writes the n-th parameter (SQLite `?`, PostgreSQL
    /// `$n`), counting on from `after` parameters the caller binds first; `contains(column, parameter)`
    /// is the dialect's case-insensitive substring test.
    package func conditions(after: Int, placeholder: (Int) -> String,
                            contains: (_ column: String, _ parameter: String) -> String) -> (sql: String, values: [SQLValue]) {
        var clauses: [String] = []
        var values: [SQLValue] = []
        func bind(_ value: SQLValue) -> String {
            values.append(value)
            return placeholder(after + values.count)
        }
        let statuses = retryableStatuses.map { bind(.text($0.rawValue)) }
        // No retryable status asked: nothing matches (an IN list cannot be empty).
        clauses.append(statuses.isEmpty ? "0 = 1" : "status IN (\(statuses.joined(separator: ", ")))")
        if let errorKind { clauses.append("error_kind = \(bind(.text(errorKind.rawValue)))") }
        if let errorContains { clauses.append(contains("last_error", bind(.text(errorContains)))) }
        if let phase { clauses.append("phase = \(bind(.text(phase.rawValue)))") }
        if let failedSince { clauses.append("updated_at >= \(bind(.real(failedSince.timeIntervalSince1970)))") }
        return (clauses.joined(separator: " AND "), values)
    }
}
