/// One page of a source.
public struct Page: Sendable {
    public var documents: [Document]
    /// Where the next page starts; nil when this was the last page.
    public var next: String?
    /// Where the item stands, for people (`collecting: snapshot s_… running, 3 min`): stored with the
    /// page's checkpoint and shown with the item's progress until the next page.
    public var note: String?

    public init(documents: [Document], next: String?, note: String? = nil) {
        self.documents = documents
        self.next = next
        self.note = note
    }
}

/// Pulls documents from a source page by page. Implement it to collect from your own source and
/// register it with `Engine.register(collector:…)`.
///
/// The engine calls `page(after:for:)` with the cursor of the last checkpointed page (nil for the
/// first page) and, once the page's documents are staged, stores `page.next` as the new cursor in
/// the same transaction. So after any crash the next call gets the cursor of the last page that was
/// staged, and a cursor must describe a position that can be fetched again (an offset, a page
/// token, a timestamp). Throw `PhaseError.permanent` for errors retrying cannot fix; any other
/// error counts as transient.
///
/// A collector is made for each run of one item and called from one thread at a time.
public protocol Collector {
    func page(after cursor: String?, for item: ItemContext) throws -> Page
}
