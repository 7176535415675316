import Foundation

/// A spec's `items_file`: JSON Lines, one `{"name": …, "params": {…}}` per line. Read line by
/// line with `getline`, so a file of a million items costs one line of memory, not the file.
package struct ItemsFile: Sendable {
    package let url: URL

    /// The longest line read; a longer one is a problem, not a reason to buffer without bound.
    static let maxLineBytes = 1 << 20

    /// What one line holds.
    package enum Line {
        case item(ItemSpec)
        case problem(SpecProblem)
    }

    /// The file named by `spec.itemsFile`, relative to `baseDirectory`.
    package init?(_ spec: JobSpec, baseDirectory: URL) {
        guard let path = spec.itemsFile, !path.isEmpty else { return nil }
        url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : baseDirectory.appendingPathComponent(path)
    }

    /// The file's lines, read as they are asked for.
    ///
    /// - Throws: `EngineError` `.invalidSpec` when the file cannot be opened.
    package func lines() throws -> Lines {
        guard let file = fopen(url.path, "r") else { throw readFailure() }
        return Lines(file: file, owner: self)
    }

    private func readFailure() -> EngineError {
        JobSpec.invalid([SpecProblem(field: "items_file", message: FileFailure.describe(
            NSError(domain: NSPOSIXErrorDomain, code: Int(errno)), doing: "read the items file", path: url.path))])
    }

    /// An open items file; closed when it goes away.
    package final class Lines {
        private let file: UnsafeMutablePointer<FILE>
        private let owner: ItemsFile
        private var buffer: UnsafeMutablePointer<CChar>?
        private var capacity = 0
        private var number = 0

        fileprivate init(file: UnsafeMutablePointer<FILE>, owner: ItemsFile) {
            self.file = file
            self.owner = owner
        }

        deinit {
            free(buffer)
            fclose(file)
        }

        /// The next line that is not blank: its number (1-based) and its item or problem; nil at the end.
        ///
        /// - Throws: `EngineError` `.invalidSpec` when reading fails.
        package func next() throws -> (Int, Line)? {
            while true {
                errno = 0
                let length = getline(&buffer, &capacity, file)
                guard length >= 0, let buffer else {
                    if ferror(file) != 0 { throw owner.readFailure() }
                    return nil
                }
                number += 1
                let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) { continue }
                guard length <= ItemsFile.maxLineBytes else {
                    return (number, .problem(ItemsFile.problem(number, nil, "is \(length) bytes long; a line may hold at most \(ItemsFile.maxLineBytes)")))
                }
                return (number, ItemsFile.read(Data(bytes), line: number))
            }
        }
    }

    /// One line's item, or what is wrong with it.
    static func read(_ data: Data, line: Int) -> Line {
        let value: JSONValue
        do {
            value = try JSONValue.parse(data)
        } catch {
            return .problem(problem(line, nil, "is not JSON: \(JobSpec.describeSyntaxError(in: data).replacingOccurrences(of: " at line 1,", with: " at"))"))
        }
        guard case .object(let object) = value else {
            return .problem(problem(line, nil, "must be a JSON object like {\"name\": \"q1\", \"params\": {}}, got \(value.typeName)"))
        }
        if let key = DuplicateKeys.find(in: data).first {
            return .problem(problem(line, key, "appears twice in one object; keep one (JSON would silently use the last)"))
        }
        // The usual line, `{"name": "…", "params": {…}}` with a printable name, is taken as it is; any
        // other goes through the field reader, which names what is wrong (and building its field
        // path for every line of a million was a measurable part of a submit).
        if case .string(let name)? = object["name"], !name.isEmpty, JobSpec.nameProblem(name) == nil {
            switch (object.count, object["params"]) {
            case (1, nil): return .item(ItemSpec(name: name, params: [:]))
            case (2, .object(let params)?): return .item(ItemSpec(name: name, params: params))
            default: break
            }
        }
        let reader = FieldReader(object: object, path: "items_file line \(line)", problems: ProblemList())
        let name = reader.string("name")
        let params = reader.object("params", required: false) ?? [:]
        reader.rejectUnknownKeys()
        if let first = reader.allProblems.first { return .problem(first) }
        guard let name, !name.isEmpty else { return .problem(problem(line, "name", "must not be empty")) }
        if let bad = JobSpec.nameProblem(name) { return .problem(problem(line, "name", bad)) }
        return .item(ItemSpec(name: name, params: params))
    }

    package static func problem(_ line: Int, _ key: String?, _ message: String) -> SpecProblem {
        SpecProblem(field: "items_file line \(line)" + (key.map { ".\($0)" } ?? ""), message: message)
    }
}
