import Foundation
import Testing

/// The Jobs page in a real browser: `Tests/Browser/jobs_page.py` drives headless Chromium (Python
/// selenium, Debian's chromium and chromium-driver) against `engine-run serve` on loopback.
/// `.ci/run` installs all three; elsewhere the test is skipped when one is missing, and says so.
@Suite struct BrowserTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// What is missing for the browser test, if anything.
    static var missing: [String] {
        var missing: [String] = []
        if !["/usr/bin/chromium", "/usr/bin/chromium-browser"].contains(where: FileManager.default.isExecutableFile(atPath:)) {
            missing.append("chromium")
        }
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver") { missing.append("chromium-driver") }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import selenium"]
        probe.standardError = FileHandle.nullDevice
        if (try? probe.run()) == nil { missing.append("python3") } else {
            probe.waitUntilExit()
            if probe.terminationStatus != 0 { missing.append("python3 selenium") }
        }
        return missing
    }

    static var runsInCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    @Test(.enabled(if: runsInCI || missing.isEmpty, "needs chromium, chromium-driver and python3 selenium (.ci/run installs them)"))
    func anOperatorRecoversAFailedItemFromTheJobsPage() async throws {
        try #require(Self.missing.isEmpty, "CI must have \(Self.missing.joined(separator: ", ")) for the browser test")
        let folder = try Folder()
        let output = try await CLI.run(
            ["python3", Self.repository.appendingPathComponent("Tests/Browser/jobs_page.py").path,
             "--engine-run", CLI.binary.path,
             "--example", Self.repository.appendingPathComponent("Examples/news.json").path],
            in: folder.url, executable: URL(fileURLWithPath: "/usr/bin/env"), timeout: 240)
        #expect(output.code == 0, "browser test failed (exit \(output.code)):\n\(output.stdout)\n\(output.stderr)")
        #expect(output.stdout.contains("ok: q2 recovered in the browser"))
        #expect(output.stdout.contains("ok: the job menu restarted both failed items"))
        #expect(output.stdout.contains("ok: the activity charts rendered with data"))
        #expect(output.stdout.contains("ok: the filter bar found the poison item and counted it before retrying"))
        print(output.stdout)
    }
}
