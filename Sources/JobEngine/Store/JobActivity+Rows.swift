import Foundation

/// Activity rows as both stores' queries return them (`at`, `collected_total`, `ingested`; `minute`,
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
