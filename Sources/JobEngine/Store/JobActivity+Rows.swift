import Foundation

/// Activity and failure rows as both stores' queries return them (`at`, `collected_total`, `ingested`; `minute`,
/// `error_kind`, `n`): one reading of each.
extension JobActivity.Sample {
    package init(row: Row) {
        self.init(at: Date(timeIntervalSince1970: row.double("at") ?? 0), collectedTotal: row.int("collected_total"),
                  ingested: row.int("ingested"))
    }
}

extension JobActivity.Failures {
    package init(row: Row) {
        self.init(minute: Date(timeIntervalSince1970: row.double("minute") ?? 0),
                  errorKind: row.string("error_kind").flatMap(ErrorKind.init(rawValue:)), count: row.int("n"))
    }
}

extension Store {
    /// Failed items by error kind: the same query in both stores' dialects (the partial index on
    /// failed items serves it), read the same way.
    package static let failedItemKindsSQL = "SELECT error_kind, COUNT(*) AS n FROM work_items WHERE status = 'failed' GROUP BY error_kind"

    package static func failedItemKinds(_ rows: [Row]) -> [ErrorKind?: Int] {
        var kinds: [ErrorKind?: Int] = [:]
        for row in rows { kinds[row.string("error_kind").flatMap(ErrorKind.init(rawValue:)), default: 0] += row.int("n") }
        return kinds
    }
}
