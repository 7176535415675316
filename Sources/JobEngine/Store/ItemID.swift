import Foundation

/// Ids for new work items that sort by creation time (the layout of UUID version 7, RFC 9562):
/// 48 bits of Unix milliseconds, then a sequence number, then random bits. A submit of a million
/// items then appends to the end of the id index instead of writing into a random page of it per
/// item (with random ids, each step of 2,000 items rewrote some 2,000 index pages into the WAL).
package enum ItemID {
    private static let sequence = Locked<(millisecond: UInt64, count: UInt16, random: Random)>((0, 0, Random()))

    package static func next() -> String {
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        let (count, random) = sequence.withLock { state -> (UInt16, UInt64) in
            if state.millisecond == now { state.count &+= 1 } else { (state.millisecond, state.count) = (now, 0) }
            return (state.count, state.random.next())
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: now >> (8 * (5 - index))) }
        for index in 8..<16 { bytes[index] = UInt8(truncatingIfNeeded: random >> (8 * (15 - index))) }
        bytes[6] = 0x70 | UInt8(truncatingIfNeeded: count >> 8) & 0x0f  // version 7, then the sequence's high bits
        bytes[7] = UInt8(truncatingIfNeeded: count)
        bytes[8] = 0x80 | (bytes[8] & 0x3f)  // the RFC 4122 variant
        return text(bytes)
    }

    /// The canonical lowercase 8-4-4-4-12 text, written directly: `UUID.uuidString` formats through
    /// `sprintf` and was then lowercased, 3 % of a large submit's time (perf).
    static func text(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 36) { buffer in
            var out = 0
            for (index, byte) in bytes.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    buffer[out] = UInt8(ascii: "-")
                    out += 1
                }
                buffer[out] = digits[Int(byte >> 4)]
                buffer[out + 1] = digits[Int(byte & 0x0f)]
                out += 2
            }
            return out
        }
    }
}

/// The random bits of item ids: SplitMix64 (Steele, Lea, Flood 2014), seeded once from the system.
/// Ids need to be unique, not secret, and `UInt64.random` makes a getrandom(2) call per id (kernel
/// time in perf on a million-item submit). Two engines, or two processes, start from their own seeds.
private struct Random {
    private var state = UInt64.random(in: 0...UInt64.max)

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
