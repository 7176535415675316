import Dispatch
import Foundation
import JobEngine

/// Progress of a run on stderr: a live line on a terminal, a plain line every few seconds
/// otherwise, nothing with --quiet.
final class ProgressReporter: @unchecked Sendable {
    // @unchecked: the counters are behind a lock; the timer is a thread-safe DispatchSource that
    // is only not annotated Sendable.
    private struct Counts: Sendable {
        var succeeded = 0
        var failed = 0
        var documents = 0
        var latest: [UUID: (collected: Int, ingested: Int)] = [:]
    }

    private let counts = Locked(Counts())
    private let total: Int
    private let started = Date()
    private let interactive: Bool
    private let timer: any DispatchSourceTimer
    private let engine: Engine
    private let token: UUID

    /// Reports on `total` items until `finish()`.
    init(engine: Engine, total: Int) {
        self.engine = engine
        self.total = total
        interactive = isatty(STDOUT_FILENO) == 1 && isatty(STDERR_FILENO) == 1
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "engine-run.progress"))
        let counts = self.counts
        token = engine.observe { event in
            counts.withLock { counts in
                switch event {
                case .pageCollected(let id, let collected):
                    counts.documents += collected - (counts.latest[id]?.collected ?? 0)
                    counts.latest[id, default: (0, 0)].collected = collected
                case .batchIngested(let id, let ingested):
                    counts.documents += ingested - (counts.latest[id]?.ingested ?? 0)
                    counts.latest[id, default: (0, 0)].ingested = ingested
                case .itemStarted(let item):
                    counts.latest[item.id] = (item.collected, item.ingested)
                case .itemStopped(let item):
                    if item.status == .succeeded { counts.succeeded += 1 }
                    if item.status == .failed || item.status == .cancelled { counts.failed += 1 }
                case .itemsInterrupted:
                    break
                }
            }
        }
        // ENGINE_PROGRESS_SECONDS overrides the interval (tests use it; so can log shippers).
        let interval = ProcessInfo.processInfo.environment["ENGINE_PROGRESS_SECONDS"].flatMap(Double.init)
            ?? (interactive ? 0.5 : 5)
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in self?.print() }
        timer.resume()
    }

    func finish() {
        timer.cancel()
        engine.removeObserver(token)
        if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    private func print() {
        let snapshot = counts.withLock { $0 }
        let elapsed = Date().timeIntervalSince(started)
        let finished = snapshot.succeeded + snapshot.failed
        let rate = elapsed > 0 ? Double(snapshot.documents) / elapsed : 0
        var eta = "--"
        if finished > 0 && finished < total {
            eta = Self.duration(elapsed / Double(finished) * Double(total - finished))
        } else if finished >= total {
            eta = "0s"
        }
        let line = "items \(finished)/\(total) done, \(snapshot.failed) failed · \(Int(rate)) documents/s · elapsed \(Self.duration(elapsed)) · ETA \(eta)"
        FileHandle.standardError.write(Data((interactive ? "\r\u{1B}[K" + line : line + "\n").utf8))
    }

    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        return whole >= 3600 ? "\(whole / 3600)h\(whole % 3600 / 60)m" : whole >= 60 ? "\(whole / 60)m\(whole % 60)s" : "\(whole)s"
    }
}
