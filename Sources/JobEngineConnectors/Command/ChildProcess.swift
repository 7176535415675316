import Foundation
import JobEngine

/// A program a `command` collector or sink runs for one item: started with the item's details in
/// its environment, read line by line from its stdout (waiting in slices, so a stop or a timeout
/// ends the wait), its stderr copied to the item's log. Foundation's `Process` starts it in a
/// process group of its own; the whole group is stopped when the item stops, times out or this goes
/// away (SIGTERM, then SIGKILL after `stopGrace`), so a stopped item leaves no program behind: not
/// the program, nor what it started, nor one that ignores SIGTERM. (A program that moves itself to
/// another session or group on purpose is beyond reach, as with any supervisor.)
///
/// Exit status 0 is success, 75 (`EX_TEMPFAIL`) a transient failure, anything else permanent.
final class ChildProcess {
    private let process = Process()
    private let stdin = Pipe()
    private let stdout = Pipe()
    private let stderr = Pipe()
    private var buffer = Data()
    private var ended = false
    private let name: String
    /// What `kill` signals to stop the program: its group (negative), or the program alone if
    /// Foundation ever stopped giving it a group of its own.
    private var ownGroup: pid_t?
    private let item: ItemContext
    /// The last lines of stderr, for an error message.
    private let stderrTail = Locked<[String]>([])
    /// Signalled when stderr ended (the program and everything it started closed it).
    private let stderrEnded = DispatchSemaphore(value: 0)

    /// Starts `command` (looked up on `PATH` when it has no slash) in `directory`.
    ///
    /// - Throws: a permanent `PhaseError` when it cannot be started.
    init(_ command: [String], environment: [String: String], directory: URL, item: ItemContext, component: String) throws {
        _ = Self.ignoreBrokenPipes
        name = "\(component) \(command.joined(separator: " "))"
        self.item = item
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.currentDirectoryURL = directory
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try ProcessEnvironment.spawning { inherited in
                process.environment = inherited.merging(environment) { $1 }
                try process.run()
            }
        } catch {
            throw PhaseError.permanent("\(name): cannot start: \(error)")
        }
        // Foundation spawns it as the leader of a new group; a negative pid signals that group.
        let pid = process.processIdentifier
        ownGroup = getpgid(pid) == pid ? -pid : pid
        // Read on a thread of its own to its end, so every line is in the log (and the error's
        // tail) by the time the exit is reported.
        Thread.detachNewThread { [handle = stderr.fileHandleForReading, logger = item.logger, tail = stderrTail, ended = stderrEnded] in
            var pending = Data()
            func emit(_ line: Data) {
                let text = String(decoding: line, as: UTF8.self)
                logger.notice("\(text)", metadata: ["stream": "stderr"])
                tail.withLock { $0 = Array(($0 + [text]).suffix(5)) }
            }
            while true {
                let data = Self.readAvailable(handle)
                guard !data.isEmpty else { break }
                pending += data
                while let newline = pending.firstIndex(of: 0x0A) {
                    emit(pending[pending.startIndex..<newline])
                    pending = Data(pending[pending.index(after: newline)...])
                }
            }
            if !pending.isEmpty { emit(pending) }
            ended.signal()
        }
    }

    deinit {
        stopAll()
    }

    /// How long a program and what it started get to end after SIGTERM before SIGKILL.
    static let stopGrace: Double = 2

    /// Signals the program's process group: SIGTERM now, SIGKILL to whatever is left after
    /// `stopGrace`. Harmless when everything has ended (the group is gone: ESRCH).
    private func stopAll() {
        guard let group = ownGroup else { return }
        kill(group, SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + Self.stopGrace) {
            kill(group, SIGKILL)
        }
    }

    /// `item.checkStopping()`, stopping the program first when the item stops.
    private func checkStopping() throws {
        do {
            try item.checkStopping()
        } catch {
            stopAll()
            throw error
        }
    }

    /// A write to a program that has exited must fail with EPIPE (an error for its item), not kill
    /// the engine with SIGPIPE, the signal's default action.
    private static let ignoreBrokenPipes: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()

    /// Writes `line` and a newline to the program's stdin on a thread of its own, so stdout is read
    /// meanwhile: a program that prints while it reads a line longer than a pipe holds would
    /// otherwise block on its stdout while this blocked on its stdin. `wait()` on the result
    /// returns once the line is written (or throws why not).
    func writeInBackground(_ line: Data) -> PendingWrite {
        let pending = PendingWrite()
        Thread.detachNewThread { [handle = stdin.fileHandleForWriting] in
            do {
                try handle.write(contentsOf: line + Data([0x0A]))
                pending.finish(nil)
            } catch {
                pending.finish(error)
            }
        }
        return pending
    }

    /// A write in progress (`writeInBackground`).
    final class PendingWrite: Sendable {
        private let outcome = Locked<(done: Bool, error: String?)>((false, nil))
        private let finished = DispatchSemaphore(value: 0)

        fileprivate func finish(_ error: (any Error)?) {
            outcome.withLock { $0 = (true, error.map { "\($0)" }) }
            finished.signal()
        }

        /// Waits up to `seconds` for the write; the write's error, if it failed or has not ended.
        func wait(seconds: Double) -> String? {
            if finished.wait(timeout: .now() + seconds) == .timedOut { return "the write did not end within \(Int(seconds)) s" }
            finished.signal()
            return outcome.withLock { $0.error }
        }
    }

    /// Closes its stdin: the program sees the end of its input.
    func closeInput() {
        try? stdin.fileHandleForWriting.close()
    }

    /// The next line of stdout; nil at its end. Waits at most `timeout` seconds for it.
    ///
    /// - Throws: `WaitStopped` when the item stops meanwhile; a transient `PhaseError` on a timeout.
    func readLine(timeout: Double) throws -> Data? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<newline]
                buffer = Data(buffer[buffer.index(after: newline)...])
                return Data(line)
            }
            if ended {
                guard !buffer.isEmpty else { return nil }
                defer { buffer = Data() }
                return buffer
            }
            try checkStopping()
            guard Date() < deadline else {
                stopAll()
                throw PhaseError.transient("\(name): printed nothing for \(Int(timeout)) s (timeout_seconds); stopped it")
            }
            var poller = pollfd(fd: stdout.fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let chunk = Self.readAvailable(stdout.fileHandleForReading)
            if chunk.isEmpty { ended = true } else { buffer += chunk }
        }
    }

    /// Waits for the exit (at most `timeout` seconds) and turns a failing status into its error.
    func finish(timeout: Double) throws {
        closeInput()
        try awaitExit(timeout: timeout, after: "its input ended")
    }

    /// The error of a program that exited with a failing status; nil while it runs or after status 0.
    private func exitError() throws -> PhaseError? {
        guard !process.isRunning else { return nil }
        process.waitUntilExit()
        // Its last words first (a program it started may keep stderr open: not for long).
        _ = stderrEnded.wait(timeout: .now() + 2)
        stderrEnded.signal()
        let status = process.terminationStatus
        guard status != 0 || process.terminationReason == .uncaughtSignal else { return nil }
        let tail = stderrTail.withLock { $0 }.joined(separator: " | ")
        let how = process.terminationReason == .uncaughtSignal ? "was killed by signal \(status)" : "exited with status \(status)"
        let message = "\(name) \(how)" + (tail.isEmpty ? "" : ": \(tail)")
        return status == 75 ? .transient(message + " (EX_TEMPFAIL: retried)") : .permanent(message)
    }

    /// Waits (at most `timeout` seconds) for the program's end after its stdout ended, and throws
    /// for a failing status.
    func checkExit(timeout: Double) throws {
        try awaitExit(timeout: timeout, after: "it closed its stdout")
    }

    /// Waits for the exit at most `timeout` seconds (stopping it past that), then throws for a
    /// failing status.
    private func awaitExit(timeout: Double, after event: String) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            try checkStopping()
            Thread.sleep(forTimeInterval: 0.01)
        }
        if process.isRunning {
            stopAll()
            throw PhaseError.transient("\(name): did not exit within \(Int(timeout)) s after \(event); stopped it")
        }
        if let error = try exitError() { throw error }
    }

    /// The next bytes `handle` has (empty at its end). Foundation's `availableData` stops the whole
    /// process when a signal interrupts its read (EINTR, under a `try!`): seen with a test run's
    /// signals flying; this read simply reads again.
    static func readAvailable(_ handle: FileHandle) -> Data {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(handle.fileDescriptor, &buffer, buffer.count)
            if count >= 0 { return Data(buffer[0..<count]) }
            if errno != EINTR { return Data() }
        }
    }
}
