import Foundation

extension JobSpec {
    /// Parses and validates a JSON spec.
    ///
    /// - Throws: `EngineError` with code `.invalidSpec` listing every problem by field path
    ///   (malformed JSON with its line and column, wrong types, unknown keys, duplicate names…).
    public init(json data: Data) throws {
        let (spec, problems) = Self.parse(json: data)
        guard let spec, problems.isEmpty else { throw Self.invalid(problems) }
        self = spec
    }

    /// The spec, if it could be read at all, and every problem found.
    static func parse(json data: Data) -> (JobSpec?, [SpecProblem]) {
        do {
            let value = try JSONValue.parse(data)
            let duplicates = DuplicateKeys.find(in: data).map {
                SpecProblem(field: $0, message: "appears twice in one object; keep one (JSON would silently use the last)")
            }
            let (spec, problems) = read(value)
            return (spec, duplicates + problems)
        } catch {
            return (nil, [SpecProblem(field: "(root)", message: describeSyntaxError(in: data))])
        }
    }

    /// As `parse(json:)`, with the same shape as `parseLocating(yaml:)` (JSON problems have no line).
    static func parseLocating(json data: Data) -> (JobSpec?, [SpecProblem], @Sendable (SpecProblem) -> SpecProblem) {
        let (spec, problems) = parse(json: data)
        return (spec, problems, { $0 })
    }

    static func invalid(_ problems: [SpecProblem]) -> EngineError {
        EngineError(.invalidSpec, "The job spec has \(problems.count) problem\(problems.count == 1 ? "" : "s"):",
                    problems: problems)
    }

    /// The spec as JSON: the same shape ``init(json:)`` reads.
    public var jsonValue: JSONValue {
        func component(_ spec: ComponentSpec) -> JSONValue {
            var object = spec.options
            object["type"] = .string(spec.type)
            return .object(object)
        }
        var object: [String: JSONValue] = [
            "name": .string(name),
            "concurrency": .number(Double(concurrency)),
            "retry": [
                "max_attempts": .number(Double(retry.maxAttempts)),
                "mode": .string(retry.mode.rawValue),
                "backoff_ms": .number(Double(retry.backoffMilliseconds)),
                "max_recoveries": .number(Double(retry.maxRecoveries)),
            ],
            "checkpoint": ["sync": .string(checkpoint.sync.rawValue)],
            "collector": component(collector),
            "ingester": component(ingester),
            "faults": .array(faults.map { fault in
                var object: [String: JSONValue] = [
                    "item": .string(fault.item), "phase": .string(fault.phase.rawValue),
                    "at_document": .number(Double(fault.atDocument)), "times": .number(Double(fault.times)),
                    "message": .string(fault.message),
                ]
                if let stall = fault.stallMilliseconds { object["stall_ms"] = .number(Double(stall)) }
                return .object(object)
            }),
        ]
        if let itemsFile {
            object["items_file"] = .string(itemsFile)
        } else {
            object["items"] = .array(items.map { .object(["name": .string($0.name), "params": .object($0.params)]) })
        }
        return .object(object)
    }

    /// Reads a parsed JSON value into a spec, collecting every problem. `withoutItems` reads a
    /// stored job's settings, whose item list is kept apart on purpose.
    package static func read(_ value: JSONValue, withoutItems: Bool = false) -> (JobSpec?, [SpecProblem]) {
        guard case .object(let object) = value else {
            return (nil, [SpecProblem(field: "(root)", message: "must be a JSON object, got \(value.typeName)")])
        }
        let root = FieldReader(object: object, path: "", problems: ProblemList())
        let name = root.string("name")
        let concurrency = root.int("concurrency", default: 4, in: 1...1024)

        var retry = RetrySpec()
        if let reader = root.nested("retry", required: false) {
            retry.maxAttempts = reader.int("max_attempts", default: 1, in: 1...100) ?? 1
            retry.mode = reader.choice("mode", default: RetryMode.recover)
            retry.backoffMilliseconds = reader.int("backoff_ms", default: 200, in: 0...3_600_000) ?? 200
            retry.maxRecoveries = reader.int("max_recoveries", default: 5, in: 1...1000) ?? 5
            reader.rejectUnknownKeys()
        }
        var checkpoint = CheckpointSpec()
        if let reader = root.nested("checkpoint", required: false) {
            checkpoint.sync = reader.choice("sync", default: SyncMode.normal)
            reader.rejectUnknownKeys()
        }
        let collector = readComponent("collector", of: root)
        let ingester = readComponent("ingester", of: root)

        let itemsFile = root.raw("items_file") == nil ? nil : root.string("items_file")
        if itemsFile != nil, root.raw("items") != nil {
            root.report("items_file", "give the items either inline (items) or in a file (items_file), not both")
        }
        var items: [ItemSpec] = []
        if itemsFile == nil || root.raw("items") != nil, let array = root.array("items") {
            if array.isEmpty && !withoutItems { root.report("items", "must list at least one item") }
            for (index, element) in array.enumerated() {
                guard let reader = root.element(element, of: "items", at: index) else { continue }
                let itemName = reader.string("name")
                let params = reader.object("params", required: false) ?? [:]
                reader.rejectUnknownKeys()
                if let itemName { items.append(ItemSpec(name: itemName, params: params)) }
            }
        }
        var faults: [FaultSpec] = []
        for (index, element) in (root.array("faults", required: false) ?? []).enumerated() {
            guard let reader = root.element(element, of: "faults", at: index) else { continue }
            let item = reader.string("item")
            let phase = reader.choice("phase", default: Phase.done)
            if phase == .done { reader.report("phase", "must be \"collect\" or \"ingest\"") }
            let at = reader.int("at_document", in: 0...Int.max)
            let times = reader.int("times", default: 1, in: 1...Int.max)
            let message = reader.string("message", required: false) ?? "injected fault"
            let stall = reader.raw("stall_ms") == nil ? nil : reader.int("stall_ms", in: 1...86_400_000)
            reader.rejectUnknownKeys()
            if let item, let at, let times {
                faults.append(FaultSpec(item: item, phase: phase, atDocument: at, times: times, message: message,
                                        stallMilliseconds: stall))
            }
        }
        root.rejectUnknownKeys()

        guard let name, let concurrency, let collector, let ingester else { return (nil, root.allProblems) }
        let spec = JobSpec(name: name, concurrency: concurrency, retry: retry, checkpoint: checkpoint,
                           collector: collector, ingester: ingester, items: items, itemsFile: itemsFile, faults: faults)
        return (spec, root.allProblems + (withoutItems ? [] : spec.semanticProblems()))
    }

    private static func readComponent(_ key: String, of root: FieldReader) -> ComponentSpec? {
        guard let object = root.object(key) else { return nil }
        let reader = FieldReader(object: object, path: key, problems: ProblemList())
        guard let type = reader.string("type") else {
            root.report(key, "missing \"type\"")
            return nil
        }
        var options = object
        options["type"] = nil
        return ComponentSpec(type: type, options: options)
    }

    /// Every problem of a spec built in code, found exactly as for a spec file: the spec is read
    /// back from its own JSON, so ranges, choices and cross-references are checked by the one reader
    /// both entry points share.
    func validationProblems() -> [SpecProblem] {
        Self.read(jsonValue).1
    }

    /// Rules that hold for any spec, parsed or built in code.
    func semanticProblems() -> [SpecProblem] {
        var problems: [SpecProblem] = []
        if name.isEmpty { problems.append(SpecProblem(field: "name", message: "must not be empty")) }
        if !(1...1024).contains(concurrency) {
            problems.append(SpecProblem(field: "concurrency", message: concurrency < 1 ? "must be > 0" : "must be <= 1024"))
        }
        if itemsFile?.isEmpty == true { problems.append(SpecProblem(field: "items_file", message: "must name a JSON Lines file, e.g. \"items.jsonl\"")) }
        if items.isEmpty, itemsFile == nil, !problems.contains(where: { $0.field == "items" }) {
            problems.append(SpecProblem(field: "items", message: "must list at least one item"))
        }
        if let problem = Self.nameProblem(name) { problems.append(SpecProblem(field: "name", message: problem)) }
        var seen: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            if item.name.isEmpty { problems.append(SpecProblem(field: "items[\(index)].name", message: "must not be empty")) }
            if let problem = Self.nameProblem(item.name) { problems.append(SpecProblem(field: "items[\(index)].name", message: problem)) }
            if let first = seen[item.name] {
                problems.append(SpecProblem(field: "items[\(index)].name",
                                            message: "duplicate item name \"\(item.name)\" (also items[\(first)])"))
            } else {
                seen[item.name] = index
            }
        }
        // With an items_file, faults are checked against its names as it is read.
        for (index, fault) in faults.enumerated() where itemsFile == nil && seen[fault.item] == nil {
            problems.append(SpecProblem(field: "faults[\(index)].item",
                                        message: "no item is named \"\(fault.item)\""))
        }
        return problems
    }

    /// Why `name` cannot name a job or an item: a control character (NUL, newline, an escape
    /// sequence) would make two names print alike, or rewrite the operator's terminal.
    static func nameProblem(_ name: String) -> String? {
        // Printable ASCII needs no Unicode property lookup (a million names in a large submit).
        if name.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return nil }
        guard let bad = name.unicodeScalars.first(where: \.isUnprintable) else { return nil }
        return "must be printable: it holds the control character " + String(format: "U+%04X", bad.value)
    }

    /// "malformed JSON at line L, column C: …", located from the parser's character offset.
    static func describeSyntaxError(in data: Data) -> String {
        guard data.contains(where: { !" \n\r\t".utf8.contains($0) }) else {
            return "the file is empty; expected a JSON object"
        }
        let detail: String
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            detail = "not a JSON value"
        } catch {
            detail = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? "\(error)"
        }
        // Foundation says "… around character N." (a 0-based offset into the text).
        guard let range = detail.range(of: #"around (line \d+, column \d+|character \d+)"#, options: .regularExpression),
              let offset = Int(detail[range].split(separator: " ").last ?? "")
        else { return "malformed JSON: \(detail)" }
        let prefix = data.prefix(min(offset, data.count))
        let line = prefix.filter { $0 == UInt8(ascii: "\n") }.count + 1
        let column = prefix.count - (prefix.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
        let reason = detail[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
        return "malformed JSON at line \(line), column \(column): \(reason.isEmpty ? "unexpected input" : reason)"
    }
}
