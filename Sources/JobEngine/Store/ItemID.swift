import Foundation

/// Ids for new work items that sort by creation time (the layout of UUID version 7, RFC 9562):
/// 48 bits of Unix milliseconds, then a sequence number, then random bits. A submit of a million
/// items then appends to the end of the id index instead of writing into a random page of it per
/// item (with random ids, each step of 2,000 items rewrote some 2,000 index pages into the WAL).
enum ItemID {
    private static let sequence = Locked<(millisecond: UInt64, count: UInt16)>((0, 0))

    static func next() -> String {
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        let count = sequence.withLock { state -> UInt16 in
            if state.millisecond == now { state.count &+= 1 } else { state = (now, 0) }
            return state.count
        }
        // One draw of 64 random bits for the last eight bytes: a draw per byte was a getrandom(2)
        // call each, 15 % of a large submit's time (perf).
        let random = UInt64.random(in: 0...UInt64.max)
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: now >> (8 * (5 - index))) }
        for index in 8..<16 { bytes[index] = UInt8(truncatingIfNeeded: random >> (8 * (15 - index))) }
        bytes[6] = 0x70 | UInt8(truncatingIfNeeded: count >> 8) & 0x0f  // version 7, then the sequence's high bits
        bytes[7] = UInt8(truncatingIfNeeded: count)
        bytes[8] = 0x80 | (bytes[8] & 0x3f)  // the RFC 4122 variant
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
            .uuidString.lowercased()
    }
}
