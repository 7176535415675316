import Foundation
import JobEngine

/// The answer of `GET jobs/{id}/activity`.
struct ActivityListing: Encodable {
    struct Rate: Encodable {
        let at: String
        let collectedPerSecond: Double
        let ingestedPerSecond: Double

        enum CodingKeys: String, CodingKey {
            case at, collectedPerSecond = "collected_per_second", ingestedPerSecond = "ingested_per_second"
        }
    }

    struct Failures: Encodable {
        let minute: String
        let errorKind: String?
        let count: Int

        enum CodingKeys: String, CodingKey {
            case minute, errorKind = "error_kind", count
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(minute, forKey: .minute)
            try container.encode(errorKind, forKey: .errorKind)  // null, not left out
            try container.encode(count, forKey: .count)
        }
    }

    let since: String
    let until: String
    let rates: [Rate]
    let failures: [Failures]
    let itemsLeft: Int
    let recentlySucceeded: Int
    let secondsLeft: Double?

    enum CodingKeys: String, CodingKey {
        case since, until, rates, failures, itemsLeft = "items_left", recentlySucceeded = "recently_succeeded", secondsLeft = "seconds_left"
    }

    init(_ activity: JobActivity) {
        let iso = ISO8601DateFormatter()
        since = iso.string(from: activity.since)
        until = iso.string(from: activity.until)
        rates = activity.rates.map {
            Rate(at: iso.string(from: $0.at), collectedPerSecond: $0.collectedPerSecond, ingestedPerSecond: $0.ingestedPerSecond)
        }
        failures = activity.failures.map { Failures(minute: iso.string(from: $0.minute), errorKind: $0.errorKind?.rawValue, count: $0.count) }
        itemsLeft = activity.itemsLeft
        recentlySucceeded = activity.recentlySucceeded
        secondsLeft = activity.secondsLeft
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(since, forKey: .since)
        try container.encode(until, forKey: .until)
        try container.encode(rates, forKey: .rates)
        try container.encode(failures, forKey: .failures)
        try container.encode(itemsLeft, forKey: .itemsLeft)
        try container.encode(recentlySucceeded, forKey: .recentlySucceeded)
        try container.encode(secondsLeft, forKey: .secondsLeft)  // null when there is no rate to go by
    }
}
