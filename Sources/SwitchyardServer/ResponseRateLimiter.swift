import SwitchyardCore
import Synchronization

/// Response-rate limiting for UDP, as NSD and Knot do it against reflection attacks: per
/// client prefix (/24 for IPv4, /56 for IPv6) a token bucket of `rate` responses per second.
/// A response over the rate is dropped, except every `slip`-th, which goes out truncated
/// (TC=1, no records) so a real client retries over TCP, which is never limited. Clients in
/// a whitelisted prefix are never limited.
public struct RateLimitSettings: Sendable, Equatable {
    /// Responses per second per prefix; 0 turns limiting off.
    public var rate: Int
    /// Every `slip`-th limited response is sent truncated; 0 sends none, 1 all.
    public var slip: Int
    public var whitelist: [AddressPrefix]

    public init(rate: Int, slip: Int = 2, whitelist: [AddressPrefix] = []) {
        self.rate = rate; self.slip = slip; self.whitelist = whitelist
    }

    public static let ipv4PrefixLength = 24
    public static let ipv6PrefixLength = 56
}

/// The shared bucket table; workers take its lock once per batch of responses.
public final class ResponseRateLimiter: Sendable {
    public enum Verdict: Sendable { case send, slip, drop }

    let settings: RateLimitSettings
    private let table: Mutex<BucketTable>
    private let droppedCount = Atomic<Int>(0)
    private let slippedCount = Atomic<Int>(0)

    /// `nil` when `settings.rate` is 0 (off).
    public init?(_ settings: RateLimitSettings, tableSize: Int = 1 << 16) {
        guard settings.rate > 0 else { return nil }
        self.settings = settings
        self.table = Mutex(BucketTable(size: tableSize))
    }

    /// Limited responses dropped and sent truncated since the start.
    public var dropped: Int { droppedCount.load(ordering: .relaxed) }
    public var slipped: Int { slippedCount.load(ordering: .relaxed) }

    /// Judges `count` responses under one lock: `client(i)` gives the address of the i-th,
    /// `verdict(i, v)` receives its verdict. `now` is in seconds, monotonic.
    func judge(count: Int, now: Double, client: (Int) -> UnsafeRawBufferPointer, verdict: (Int, Verdict) -> Void) {
        var dropped = 0, slipped = 0
        table.withLock { table in
            for i in 0..<count {
                let address = client(i)
                let result: Verdict
                if settings.whitelist.contains(where: { $0.contains(address) }) {
                    result = .send
                } else {
                    result = table.admit(address, now: now, rate: settings.rate, slip: settings.slip)
                }
                if result == .drop { dropped += 1 } else if result == .slip { slipped += 1 }
                verdict(i, result)
            }
        }
        if dropped > 0 { droppedCount.add(dropped, ordering: .relaxed) }
        if slipped > 0 { slippedCount.add(slipped, ordering: .relaxed) }
    }
}

/// Buckets in a fixed-size table indexed by a hash of the prefix. A colliding prefix takes
/// the slot over with a full bucket (as Knot's table does when its probes run out): memory
/// stays bounded whatever the number of sources, at the price of forgiving some.
struct BucketTable {
    private struct Bucket {
        var prefix: (UInt64, UInt64) = (0, 0)
        var used = false
        var tokens: Double = 0
        var updated: Double = 0
        var limited: Int = 0
    }

    private var buckets: [Bucket]
    private let mask: Int

    init(size: Int) {
        let power = max(16, 1 << (Int.bitWidth - (size - 1).leadingZeroBitCount))
        buckets = Array(repeating: Bucket(), count: power)
        mask = power - 1
    }

    mutating func admit(_ address: UnsafeRawBufferPointer, now: Double, rate: Int, slip: Int) -> ResponseRateLimiter.Verdict {
        let prefix = Self.prefix(of: address)
        var hash = prefix.0 &* 0x9E37_79B9_7F4A_7C15 ^ prefix.1 &* 0xC2B2_AE3D_27D4_EB4F
        hash ^= hash >> 29
        let index = Int(truncatingIfNeeded: hash) & mask
        let capacity = Double(rate)
        if !buckets[index].used || buckets[index].prefix != prefix {
            buckets[index] = Bucket(prefix: prefix, used: true, tokens: capacity, updated: now, limited: 0)
        } else {
            let refill = (now - buckets[index].updated) * capacity
            buckets[index].tokens = min(capacity, buckets[index].tokens + max(0, refill))
            buckets[index].updated = now
        }
        if buckets[index].tokens >= 1 {
            buckets[index].tokens -= 1
            return .send
        }
        buckets[index].limited += 1
        return slip > 0 && buckets[index].limited % slip == 0 ? .slip : .drop
    }

    /// The /24 of an IPv4 address or the /56 of an IPv6 one, as two words; the family is
    /// folded in so 10.0.0.0/24 and ::a00:0/56 differ.
    static func prefix(of address: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        if address.count == 4 {
            return (UInt64(address[0]) << 16 | UInt64(address[1]) << 8 | UInt64(address[2]), 4)
        }
        var high: UInt64 = 0
        for i in 0..<min(7, address.count) { high = high << 8 | UInt64(address[i]) }
        return (high, 6)
    }
}

extension ResponseRateLimiter {
    /// Cuts a response in place down to its header and question with TC=1 (the slipped
    /// answer: a real client retries over TCP, a reflection gains nothing). Returns the new
    /// length; a response without one readable question keeps only its header.
    static func slip(_ response: UnsafeMutableRawPointer, length: Int) -> Int {
        guard length >= 12 else { return length }
        let bytes = response.assumingMemoryBound(to: UInt8.self)
        var end = 12
        if bytes[4] == 0 && bytes[5] == 1 {
            var position = 12
            while position < length {
                let label = Int(bytes[position])
                if label == 0 { position += 1; break }
                if label & 0xC0 != 0 { position += 2; break }
                position += 1 + label
            }
            if position > 12 && position + 4 <= length { end = position + 4 }
        }
        if end == 12 { bytes[4] = 0; bytes[5] = 0 }
        bytes[2] |= 0x02
        for i in 6..<12 { bytes[i] = 0 }
        return end
    }
}
