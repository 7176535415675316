import Foundation

/// Times as operators type them on a command line or in a filter: ages (`30d`, `12h`, `45m`,
/// `90s`) and instants (ISO 8601, with or without seconds, or a date).
package enum TimeText {
    /// `30d`, `12h`, `45m`, `90s` as a duration; nil for anything else.
    package static func age(_ text: String) -> Duration? {
        // At most a century: larger counts would overflow (and trap) in the multiplication.
        guard let unit = text.last, let count = Int(text.dropLast()), count > 0, count <= 3_153_600_000 else { return nil }
        let seconds: Int
        switch unit {
        case "d": seconds = 86_400
        case "h": seconds = 3_600
        case "m": seconds = 60
        case "s": seconds = 1
        default: return nil
        }
        let (total, overflow) = count.multipliedReportingOverflow(by: seconds)
        guard !overflow, total <= 3_153_600_000 else { return nil }
        return .seconds(total)
    }

    /// An instant: `2026-12-01T10:00Z`, `2026-12-01T10:00:30.5+01:00`, `2026-12-01` (midnight UTC),
    /// or an age before `now` (`2h`: two hours ago); nil for anything else.
    package static func instant(_ text: String, now: Date = Date()) -> Date? {
        if let age = age(text) { return now.addingTimeInterval(-age.inSeconds) }
        let withSeconds = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions.insert(.withFractionalSeconds)
        let date = ISO8601DateFormatter()
        date.formatOptions = [.withFullDate]
        // RFC 3339 allows lower-case t and z and any number of fractional digits; ISO 8601 allows
        // leaving the seconds out (10:00Z). Foundation's parser takes neither, so both are normalized.
        var normalized = text.count > 10 ? text.uppercased() : text
        normalized = normalized.replacing(/^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(Z|[+-]\d{2}:?\d{2})$/) { "\($0.1):00\($0.2)" }
        normalized = normalized.replacing(/^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})\d+/) { "\($0.1)" }
        return withSeconds.date(from: normalized) ?? fractional.date(from: normalized) ?? (text.count == 10 ? date.date(from: text) : nil)
    }

    /// What `instant` accepts, for error messages.
    package static let instantForms = "an ISO 8601 time like 2026-12-01T10:00Z or 2026-12-01T10:00:00+01:00, a date like 2026-12-01, or an age like 2h (two hours ago)"
}
