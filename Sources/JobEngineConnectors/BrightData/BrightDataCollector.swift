import Crypto
import Foundation
import JobEngine
import NIOHTTP1

/// Collects a Bright Data Web Scraper API snapshot: trigger a collection, wait while the vendor
/// runs it, download it in parts (docs.brightdata.com, "Web Scraper API"). The vendor's work is
/// paid, so the collector is built around never triggering twice for one attempt chain:
///
/// - The first page of a run from the start checkpoints a trigger *intent* and nothing else; the
///   next page triggers and checkpoints the snapshot id the moment it is known. A run that starts
///   from an intent an earlier run checkpointed (that run died, perhaps after the trigger answered
///   but before its id was checkpointed) first looks for a snapshot of the same inputs triggered
///   since the intent, and triggers only when there is none.
/// - `recover` goes on from the checkpoint: it polls or downloads, never triggers (unless only the
///   intent was checkpointed and the vendor has no such snapshot). `restart` clears the cursor,
///   so it triggers a new snapshot.
/// - Each poll is a page of no documents whose cursor carries the status and whose note shows it
///   with the item, so the item's progress moves and a cancel from another process is seen at the
///   next poll; the wait between polls ends at once on a cancel or shutdown in this process.
/// - Parts are downloaded with the same `format` and `batch_size` every time; the part and the line
///   within it are the checkpoint, so a failure in part 3 of 5 downloads again from part 3.
///
/// The token is read from the environment variable the spec names, sent only in the
/// `Authorization` header, and scrubbed from every error; it is never stored.
actor BrightDataCollector: AsyncCollector {
    private let options: BrightDataOptions
    private let client: VendorClient
    /// The part downloaded last, kept while its pages are staged.
    private var downloaded: (snapshotID: String, part: Int, lines: [Data])?
    /// The intent this run checkpointed: nothing can have been triggered for it yet.
    private var intentMadeHere: String?
    /// Whether this run polled yet: `deadline_minutes` counts from a run's first poll, so a recover
    /// after the deadline polls for another full deadline.
    private var polledHere = false

    init(context: ComponentContext) throws {
        let options = try context.read("collector", BrightDataOptions.init)
        guard let token = ProcessEnvironment.value(options.tokenEnvironmentVariable), !token.isEmpty else {
            throw PhaseError.permanent("brightdata collector: the environment variable \(options.tokenEnvironmentVariable) (collector.token_env) is not set; export the Bright Data API token in it")
        }
        self.options = options
        client = VendorClient(options.call, headers: [("Authorization", "Bearer \(token)")], secrets: [token],
                              source: "brightdata \(options.baseURL) \(options.datasetID)")
    }

    func page(after checkpoint: String?, for item: ItemContext) async throws -> Page {
        let inputs = try inputs(for: item)
        guard let checkpoint else {
            // Before anything is paid for: the intent, so a crash after the trigger is recoverable.
            let intent = SnapshotCursor(intentAt: Date().timeIntervalSince1970, inputsSHA256: SnapshotInputs.digest(inputs)).checkpoint
            intentMadeHere = intent
            return Page(documents: [], next: intent)
        }
        var cursor = try SnapshotCursor(checkpoint: checkpoint)
        guard let snapshotID = cursor.snapshotID else {
            // An intent from an earlier run may have been triggered before that run died: look first.
            if checkpoint != intentMadeHere, let found = try await snapshotTriggered(since: cursor, item: item) {
                item.logger.notice("brightdata: found snapshot \(found), triggered before the last checkpoint; not triggering again")
                cursor.snapshotID = found
            } else {
                let id = try await trigger(inputs, item: item)
                // Claimed before it is checkpointed: a lookup after a crash in between adopts it,
                // and no other item's lookup can.
                _ = try item.claim(claimKey(id), token: Self.claimToken(cursor))
                cursor.snapshotID = id
            }
            cursor.waitingSince = Date().timeIntervalSince1970
            return Page(documents: [], next: cursor.checkpoint, note: Self.waitingNote(cursor))
        }
        if cursor.parts == nil {
            guard let parts = try await readyParts(snapshotID, cursor: &cursor, item: item) else {
                return Page(documents: [], next: cursor.checkpoint, note: Self.waitingNote(cursor))
            }
            cursor.parts = parts
            guard parts > 0 else { return Page(documents: [], next: nil) }
        }
        return try await download(snapshotID, cursor: cursor, item: item)
    }

    // MARK: Trigger

    /// The inputs of this item: the spec's, else the item's `inputs` param, else its params as one input.
    private func inputs(for item: ItemContext) throws -> [JSONValue] {
        if let inputs = options.inputs { return inputs }
        if case .array(let inputs)? = item.params["inputs"] {
            guard !inputs.isEmpty else { throw PhaseError.permanent("brightdata collector: item \(item.itemName) has an empty \"inputs\" param") }
            return inputs
        }
        guard !item.params.isEmpty else {
            throw PhaseError.permanent("brightdata collector: no inputs: give collector.inputs, or params (e.g. {\"url\": \"https://…\"}) to item \(item.itemName)")
        }
        return [.object(item.params)]
    }

    private func trigger(_ inputs: [JSONValue], item: ItemContext) async throws -> String {
        let url = endpoint("/datasets/v3/trigger", [("dataset_id", options.datasetID)] + options.query)
        let response = try await client.send(.POST, url, body: JSONValue.array(inputs).canonicalJSON(), item: item,
                                             doing: "brightdata trigger")
        guard response.status == 200 else { throw client.failure(response, doing: "brightdata trigger") }
        guard case .object(let answer) = try response.json("brightdata trigger", scrub: client.scrub), case .string(let id)? = answer["snapshot_id"], !id.isEmpty else {
            throw PhaseError.transient(client.scrub("brightdata trigger: the answer has no snapshot_id: \(VendorClient.excerpt(response.body))"))
        }
        item.logger.info("brightdata: triggered snapshot \(id)")
        return id
    }

    /// What the store's claim on a snapshot is recorded under.
    private func claimKey(_ snapshotID: String) -> String {
        "brightdata \(options.baseURL) \(snapshotID)"
    }

    /// The attempt chain a claim belongs to: its trigger intent (a restart makes a new one).
    private static func claimToken(_ cursor: SnapshotCursor) -> String {
        "intent \(cursor.intentAt) \(cursor.inputsSHA256)"
    }

    /// A snapshot of this dataset with the same inputs, triggered since the intent was checkpointed,
    /// that no other item (nor an earlier attempt chain of this one) claimed: items with alike
    /// inputs each adopt their own. Claimed here before it is returned.
    private func snapshotTriggered(since cursor: SnapshotCursor, item: ItemContext) async throws -> String? {
        // A minute of slack for clocks: the vendor's and this machine's.
        let from = Date(timeIntervalSince1970: cursor.intentAt - 60)
        let url = endpoint("/datasets/v3/snapshots", [("dataset_id", options.datasetID), ("from_date", Self.isoDate(from))])
        let response = try await client.send(.GET, url, item: item, doing: "brightdata snapshot lookup")
        guard response.status == 200 else { throw client.failure(response, doing: "brightdata snapshot lookup") }
        guard case .array(let snapshots) = try response.json("brightdata snapshot lookup", scrub: client.scrub) else { return nil }
        for case .object(let snapshot) in snapshots {
            guard case .string(let id)? = snapshot["id"] ?? snapshot["snapshot_id"] else { continue }
            let input = try await client.send(.GET, endpoint("/datasets/v3/snapshot/\(Self.escape(id))/input", []), item: item,
                                              doing: "brightdata snapshot input")
            guard input.status == 200 else { continue }
            // JSON or CSV, whichever the vendor answers: compared in one form (`SnapshotInputs`).
            guard let digest = SnapshotInputs.digest(answer: input.body) else {
                throw PhaseError.transient(client.scrub("brightdata snapshot input of \(id): neither JSON nor CSV: \(VendorClient.excerpt(input.body))"))
            }
            guard digest == cursor.inputsSHA256 else { continue }
            if try item.claim(claimKey(id), token: Self.claimToken(cursor)) { return id }
            item.logger.info("brightdata: snapshot \(id) has the same inputs but is another item's (or an earlier attempt's)")
        }
        return nil
    }

    // MARK: Wait

    /// The snapshot's number of parts once it is ready; nil after a poll that found it not ready
    /// (then `cursor` carries the status, and the wait between polls is over).
    private func readyParts(_ id: String, cursor: inout SnapshotCursor, item: ItemContext) async throws -> Int? {
        // The wait comes before a poll that follows another, so the status a poll found is
        // checkpointed (and shown with the item) while the next one is awaited.
        if cursor.status != nil {
            do {
                try await StoppableWait.sleep(options.pollSeconds, item: item)
            } catch let stop as WaitStopped {
                if options.cancelSnapshotOnCancel && item.isCancelled { await cancel(id, item: item) }
                throw stop
            }
        }
        let doing = "brightdata progress of snapshot \(id)"
        let response = try await client.send(.GET, endpoint("/datasets/v3/progress/\(Self.escape(id))", []), item: item, doing: doing)
        try checkSnapshotExists(response, id: id)
        guard response.status == 200 else { throw client.failure(response, doing: doing) }
        let progress = try response.json(doing, scrub: client.scrub)
        let status = progress["status"].flatMap(\.stringValue) ?? "unknown"
        if status == "failed" {
            let reason = progress["error_message"].flatMap(\.stringValue) ?? progress["error"].flatMap(\.stringValue) ?? "no reason given"
            throw PhaseError.permanent(client.scrub("brightdata snapshot \(id) failed: \(reason); restart the item to trigger a new one"))
        }
        if status == "ready", let parts = try await partCount(id, item: item) { return parts }
        let since = polledHere ? cursor.waitingSince ?? Date().timeIntervalSince1970 : Date().timeIntervalSince1970
        polledHere = true
        let minutes = Int((Date().timeIntervalSince1970 - since) / 60)
        if minutes >= options.deadlineMinutes {
            throw PhaseError.transient("brightdata snapshot \(id) is not ready after \(minutes) min (status \(status)); recover polls it again, restart triggers a new one")
        }
        cursor.status = status
        cursor.waitingSince = since
        item.logger.info("\(Self.waitingNote(cursor) ?? "")")
        return nil
    }

    /// Asks the vendor to stop a snapshot the job no longer wants (`cancel_snapshot_on_cancel`);
    /// a failure is logged, the cancel of the item stands.
    private func cancel(_ id: String, item: ItemContext) async {
        let doing = "brightdata cancel of snapshot \(id)"
        do {
            let response = try await client.send(.POST, endpoint("/datasets/v3/snapshot/\(Self.escape(id))/cancel", []), item: item,
                                                 doing: doing, whileStopping: true)
            if (200..<300).contains(response.status) {
                item.logger.notice("brightdata: cancelled snapshot \(id) at the vendor")
            } else {
                item.logger.warning("\(client.failure(response, doing: doing))")
            }
        } catch {
            item.logger.warning("\(doing) failed: \(error)")
        }
    }

    /// The number of parts of a ready snapshot; nil while the vendor still builds them (202).
    private func partCount(_ id: String, item: ItemContext) async throws -> Int? {
        let doing = "brightdata parts of snapshot \(id)"
        let response = try await client.send(.GET, endpoint("/datasets/v3/snapshot/\(Self.escape(id))/parts", downloadQuery), item: item, doing: doing)
        try checkSnapshotExists(response, id: id)
        if response.status == 202 { return nil }
        guard response.status == 200 else { throw client.failure(response, doing: doing) }
        guard case .number(let parts)? = try response.json(doing, scrub: client.scrub)["parts"], parts >= 0, parts.rounded() == parts else {
            throw PhaseError.transient(client.scrub("\(doing): the answer has no part count: \(VendorClient.excerpt(response.body))"))
        }
        return Int(parts)
    }

    // MARK: Download

    private var downloadQuery: [(String, String)] {
        [("format", options.format.rawValue), ("batch_size", String(options.batchSize))]
    }

    /// The next page of documents from `cursor`'s part and line.
    private func download(_ id: String, cursor: SnapshotCursor, item: ItemContext) async throws -> Page {
        guard let parts = cursor.parts else { preconditionFailure("download before the part count") }
        let lines: [Data]
        if let downloaded, downloaded.snapshotID == id, downloaded.part == cursor.part {
            lines = downloaded.lines
        } else {
            let doing = "brightdata download of snapshot \(id) part \(cursor.part) of \(parts)"
            let response = try await client.send(.GET, endpoint("/datasets/v3/snapshot/\(Self.escape(id))",
                                                                downloadQuery + [("part", String(cursor.part))]), item: item, doing: doing)
            try checkSnapshotExists(response, id: id)
            if response.status == 202 {
                // Still building: wait as for a poll, and ask again from the same place.
                try await StoppableWait.sleep(options.pollSeconds, item: item)
                return Page(documents: [], next: cursor.checkpoint)
            }
            guard response.status == 200 else { throw client.failure(response, doing: doing) }
            lines = response.body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
                .filter { !$0.allSatisfy { $0 == 0x20 || $0 == 0x0D || $0 == 0x09 } }
                .map { Data($0) }
            downloaded = (id, cursor.part, lines)
        }
        let end = min(lines.count, cursor.line + options.pageSize)
        let documents = (min(cursor.line, end)..<end).map { line in
            Document(key: "\(id)/\(cursor.part)/\(line)", body: lines[line])
        }
        var next = cursor
        if end < lines.count {
            next.line = end
        } else if cursor.part < parts {
            (next.part, next.line) = (cursor.part + 1, 0)
            downloaded = nil
        } else {
            return Page(documents: documents, next: nil)
        }
        return Page(documents: documents, next: next.checkpoint)
    }

    /// An expired or unknown snapshot cannot be recovered: fail permanently with the vendor's reason.
    private func checkSnapshotExists(_ response: VendorResponse, id: String) throws {
        guard response.status == 404 || response.status == 410 || response.status == 400 else { return }
        let text = VendorClient.excerpt(response.body)
        let lower = text.lowercased()
        guard response.status != 400 || lower.contains("expired") || lower.contains("does not exist") else { return }
        throw PhaseError.permanent(client.scrub("brightdata snapshot \(id) can no longer be downloaded (HTTP \(response.status): \(text)); restart the item to trigger a new one"))
    }

    // MARK: Helpers

    /// `collecting: snapshot s_… running, 3 min`: the item's progress while the vendor works.
    static func waitingNote(_ cursor: SnapshotCursor) -> String? {
        guard let id = cursor.snapshotID else { return nil }
        let minutes = Int((Date().timeIntervalSince1970 - (cursor.waitingSince ?? Date().timeIntervalSince1970)) / 60)
        return "collecting: snapshot \(id) \(cursor.status ?? "triggered"), \(minutes) min"
    }

    private func endpoint(_ path: String, _ query: [(String, String)]) -> String {
        var components = URLComponents(string: options.baseURL.hasSuffix("/") ? String(options.baseURL.dropLast()) : options.baseURL)!
        components.percentEncodedPath += path
        if !query.isEmpty { components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        return components.string ?? options.baseURL + path
    }

    private static func escape(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? id
    }

    private static func isoDate(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
