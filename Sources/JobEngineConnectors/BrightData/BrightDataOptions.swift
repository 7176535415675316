import Foundation
import JobEngine

/// The options of a `brightdata` collector, read by one reader for validation and construction:
///
/// ```json
/// {"type": "brightdata", "dataset_id": "gd_l7q7dkf244hwjntr0", "token_env": "BRIGHTDATA_TOKEN",
///  "inputs": [{"url": "https://…"}], "base_url": "https://api.brightdata.com",
///  "poll_seconds": 10, "deadline_minutes": 120, "format": "jsonl", "batch_size": 1000,
///  "page_size": 500, "options": {"include_errors": true},
///  "limits": {"concurrency": 2, "requests_per_second": 5}}
/// ```
struct BrightDataOptions: Sendable {
    /// The line formats a snapshot can be downloaded in: the checkpoint is a line number.
    enum Format: String, CaseIterable, Sendable {
        case jsonl, ndjson
    }

    let datasetID: String
    let tokenEnvironmentVariable: String
    /// Inputs given in the spec, the same for every item; nil: each item's params give them.
    let inputs: [JSONValue]?
    let baseURL: String
    let pollSeconds: Double
    let deadlineMinutes: Int
    let format: Format
    /// Lines per part of the download (the vendor's `batch_size`).
    let batchSize: Int
    /// Documents per page, so per checkpoint, within a part.
    let pageSize: Int
    /// Passed through to the trigger as query parameters (`include_errors`, `type`, `discover_by`, …).
    let query: [(name: String, value: String)]
    let call: CallOptions
    /// On a cancel of the job while the snapshot runs, ask the vendor to cancel it too.
    let cancelSnapshotOnCancel: Bool

    init(_ reader: FieldReader) {
        datasetID = reader.string("dataset_id") ?? ""
        tokenEnvironmentVariable = reader.string("token_env", required: false) ?? "BRIGHTDATA_TOKEN"
        if !Self.isVariableName(tokenEnvironmentVariable) {
            reader.report("token_env", "must name an environment variable (letters, digits and _, not starting with a digit), got \"\(tokenEnvironmentVariable)\"")
        }
        let inputs = reader.array("inputs", required: false)
        if let inputs {
            if inputs.isEmpty { reader.report("inputs", "must list at least one input, e.g. [{\"url\": \"https://…\"}]") }
            for (index, input) in inputs.enumerated() {
                if case .object = input { continue }
                reader.report("inputs", "element \(index) must be an object like {\"url\": \"https://…\"}, got \(input.typeName)")
            }
        }
        self.inputs = inputs
        baseURL = reader.string("base_url", required: false) ?? "https://api.brightdata.com"
        if let url = URL(string: baseURL), ["http", "https"].contains(url.scheme ?? ""), url.host != nil {} else {
            reader.report("base_url", "must be an http or https URL like \"https://api.brightdata.com\", got \"\(baseURL)\"")
        }
        pollSeconds = reader.number("poll_seconds", default: 10, in: 0...3_600) ?? 10
        deadlineMinutes = reader.int("deadline_minutes", default: 120, in: 1...10_080) ?? 120
        format = reader.choice("format", default: Format.jsonl)
        batchSize = reader.int("batch_size", default: 1_000, in: 1...1_000_000) ?? 1_000
        pageSize = reader.int("page_size", default: 500, in: 1...100_000) ?? 500
        var query: [(String, String)] = []
        for (name, value) in (reader.object("options", required: false) ?? [:]).sorted(by: { $0.key < $1.key }) {
            switch value {
            case .string(let string): query.append((name, string))
            case .number, .bool: query.append((name, String(decoding: value.canonicalJSON(), as: UTF8.self)))
            default: reader.report("options", "\"\(name)\" must be a string, number or boolean (it becomes a query parameter), got \(value.typeName)")
            }
        }
        self.query = query
        call = CallOptions(reader, defaultTimeoutSeconds: 300)
        cancelSnapshotOnCancel = reader.bool("cancel_snapshot_on_cancel", default: false)
    }

    static let validate: ComponentRegistry.Validator = { reader, _ in
        _ = BrightDataOptions(reader)
        reader.rejectUnknownKeys()
    }

    private static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }
}
