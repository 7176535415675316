import Foundation

/// One document a collector fetched: a key unique within the item, and its body (JSON when it
/// parses as JSON, otherwise opaque bytes).
public struct Document: Sendable, Equatable {
    public var key: String
    public var body: Data

    public init(key: String, body: Data) {
        self.key = key
        self.body = body
    }
}

/// A document with the sequence number the engine gave it: its 0-based position in the item.
public struct SequencedDocument: Sendable, Equatable {
    public var seq: Int
    public var document: Document

    public init(seq: Int, document: Document) {
        self.seq = seq
        self.document = document
    }
}
