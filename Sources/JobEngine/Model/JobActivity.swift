import Foundation

/// A job's activity over a window of time, for charts: its documents over time (from samples of
/// its totals), its failures by minute and error kind, and how long what is left would take at
/// the rate items finished lately.
public struct JobActivity: Sendable, Equatable {
    /// The job's totals at one instant.
    public struct Sample: Sendable, Equatable {
        public let at: Date
        public let collectedTotal: Int
        public let ingested: Int

        package init(at: Date, collectedTotal: Int, ingested: Int) {
            self.at = at
            self.collectedTotal = collectedTotal
            self.ingested = ingested
        }
    }

    /// Documents per second between two consecutive samples (the later one's instant).
    public struct Rate: Sendable, Equatable {
        public let at: Date
        public let collectedPerSecond: Double
        public let ingestedPerSecond: Double
    }

    /// How many items failed with one kind in one minute.
    public struct Failures: Sendable, Equatable {
        public let minute: Date
        public let errorKind: ErrorKind?
        public let count: Int

        package init(minute: Date, errorKind: ErrorKind?, count: Int) {
            self.minute = minute
            self.errorKind = errorKind
            self.count = count
        }
    }

    public let since: Date
    public let until: Date
    public let samples: [Sample]
    public let failures: [Failures]
    /// Items that succeeded in the last ten minutes of the window.
    public let recentlySucceeded: Int
    /// Items pending or running now.
    public let itemsLeft: Int

    package init(since: Date, until: Date, samples: [Sample], failures: [Failures], recentlySucceeded: Int, itemsLeft: Int) {
        self.since = since
        self.until = until
        self.samples = samples
        self.failures = failures
        self.recentlySucceeded = recentlySucceeded
        self.itemsLeft = itemsLeft
    }

    /// How long the ten minutes a rate is judged over last.
    public static let recentSeconds: Double = 600

    /// Documents per second between consecutive samples. A total that went down (a restart
    /// cleared an item's delivered documents) counts as no progress, not as negative.
    public var rates: [Rate] {
        zip(samples, samples.dropFirst()).compactMap { earlier, later in
            let seconds = later.at.timeIntervalSince(earlier.at)
            guard seconds > 0 else { return nil }
            return Rate(at: later.at, collectedPerSecond: Double(max(0, later.collectedTotal - earlier.collectedTotal)) / seconds,
                        ingestedPerSecond: Double(max(0, later.ingested - earlier.ingested)) / seconds)
        }
    }

    /// The time left at the rate items succeeded in the last ten minutes: nil when none did (no
    /// rate to go by) or nothing is left.
    public var secondsLeft: Double? {
        guard itemsLeft > 0, recentlySucceeded > 0 else { return nil }
        return Double(itemsLeft) / (Double(recentlySucceeded) / Self.recentSeconds)
    }
}
