import Foundation

/// One serialized connection per SQLite sink file, shared by every item of this process that
/// writes to it. Items writing one file through their own connections contend for its write lock,
/// and SQLite's busy handler waits by sleeping (1, 2, 5, 10… ms) rather than being woken when the
/// lock frees. Through one connection the writes simply queue. (Landed together with other store
/// changes; its own effect was not measured alone.)
enum SinkConnections {
    private struct Entry {
        let database: SerializedDatabase
        var users: Int
    }

    private static let open = Locked<[String: Entry]>([:])

    /// The connection for `path`, opened (and configured by `configure`) for its first user.
    static func acquire(path: String, configure: (Connection) throws -> Void) throws -> SerializedDatabase {
        try open.withLock { open in
            if var entry = open[path] {
                entry.users += 1
                open[path] = entry
                return entry.database
            }
            let database = try SerializedDatabase(label: "JobEngine.sink") { try Connection(path: path) }
            try database.sync(configure)
            open[path] = Entry(database: database, users: 1)
            return database
        }
    }

    /// Gives the connection back; the last user closes it.
    static func release(path: String) {
        let closing = open.withLock { open -> SerializedDatabase? in
            guard var entry = open[path] else { return nil }
            entry.users -= 1
            if entry.users > 0 {
                open[path] = entry
                return nil
            }
            open[path] = nil
            return entry.database
        }
        closing?.close()
    }
}
