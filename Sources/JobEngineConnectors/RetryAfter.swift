import Foundation

/// The wait a `Retry-After` header asks for: "either an HTTP-date or a number of seconds"
/// (RFC 9110 §10.2.3).
enum RetryAfter {
    /// Seconds to wait, never negative; nil when the header is absent or says neither.
    static func seconds(_ value: String?, now: Date = Date()) -> Double? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Double(value), seconds.isFinite { return max(0, seconds) }
        guard let date = httpDate.date(from: value) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }

    /// IMF-fixdate, the form RFC 9110 requires senders to use: `Sun, 06 Nov 1994 08:49:37 GMT`.
    private static var httpDate: DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter
    }
}
