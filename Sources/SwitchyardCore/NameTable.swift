/// An open-addressing hash table from byte strings (lowercase wire-format names, possibly
/// followed by a type) to dense indexes 0..<count. Keys live in one contiguous arena, so
/// a lookup hashes and compares bytes straight from the packet buffer without allocating.
struct NameTable: Sendable {
    /// Per slot: the key's hash (high 32 bits) and its index + 1 (low 32 bits; 0 = empty),
    /// so a probe reads one slot and touches a key only when the hashes match.
    private var slots: [UInt64]
    private var keyStart: [Int32] = []
    private var keyLength: [UInt16] = []
    private var arena: [UInt8] = []

    init(expectedCount: Int = 16) {
        var capacity = 16
        while capacity < expectedCount * 2 { capacity <<= 1 }
        slots = Array(repeating: 0, count: capacity)
    }

    var count: Int { keyStart.count }

    /// Returns the index of `key`, inserting it when absent.
    @discardableResult
    mutating func insert(_ key: [UInt8]) -> Int { key.withUnsafeBytes { insert($0) } }

    @discardableResult
    mutating func insert(_ key: UnsafeRawBufferPointer) -> Int {
        let hash = NameTable.hash(key)
        if let existing = find(key, hash: hash) { return existing }
        if (count + 1) * 2 > slots.count { grow() }
        let index = count
        keyStart.append(Int32(arena.count))
        keyLength.append(UInt16(key.count))
        arena.append(contentsOf: key)
        place(index, hash: hash)
        return index
    }

    @inline(__always)
    func find(_ key: UnsafeRawBufferPointer) -> Int? { find(key, hash: NameTable.hash(key)) }

    @inline(__always)
    private func find(_ key: UnsafeRawBufferPointer, hash: UInt32) -> Int? {
        let mask = slots.count - 1
        var slot = Int(hash) & mask
        return slots.withUnsafeBufferPointer { slots in
            arena.withUnsafeBytes { arena in
                while true {
                    let entry = slots[slot]
                    if entry == 0 { return nil }
                    if UInt32(truncatingIfNeeded: entry >> 32) == hash {
                        let index = Int(UInt32(truncatingIfNeeded: entry)) - 1
                        if Int(keyLength[index]) == key.count {
                            let start = Int(keyStart[index])
                            if key.count == 0 || memoryEqual(arena.baseAddress! + start, key.baseAddress!, key.count) {
                                return index
                            }
                        }
                    }
                    slot = (slot + 1) & mask
                }
            }
        }
    }

    func find(_ key: [UInt8]) -> Int? { key.withUnsafeBytes { find($0) } }

    /// The key stored for `index`, lent to `body`: a zone's node table keeps each owner's
    /// lowercase name here and nowhere else.
    @inline(__always)
    func withKey<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let start = Int(keyStart[index]), length = Int(keyLength[index])
        return arena.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + length)])) }
    }

    /// Forgets every key, keeping the storage.
    mutating func removeAll() {
        for index in slots.indices { slots[index] = 0 }
        keyStart.removeAll(keepingCapacity: true)
        keyLength.removeAll(keepingCapacity: true)
        arena.removeAll(keepingCapacity: true)
    }

    /// Drops the growth slack of the key storage once the table is complete.
    mutating func compact() {
        keyStart = keyStart.withUnsafeBufferPointer { Array($0) }
        keyLength = keyLength.withUnsafeBufferPointer { Array($0) }
        arena = arena.withUnsafeBufferPointer { Array($0) }
    }

    private mutating func place(_ index: Int, hash: UInt32) {
        place(UInt64(hash) << 32 | UInt64(index + 1))
    }

    private mutating func place(_ entry: UInt64) {
        let mask = slots.count - 1
        var slot = Int(UInt32(truncatingIfNeeded: entry >> 32)) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = entry
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: 0, count: old.count * 2)
        for entry in old where entry != 0 { place(entry) }
    }

    /// Eight bytes per step (a query's key is ~30 bytes: four multiplies instead of thirty),
    /// then a final mix so that the low bits, which pick the slot, depend on every byte.
    /// Unkeyed: the table is built from zone data, never from what clients send, so a client
    /// can only look names up, not lengthen probe chains.
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let count = bytes.count
        var hash: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: count)
        guard let base = bytes.baseAddress else { return finish(hash) }
        var at = 0
        while at + 8 <= count {
            hash = mix(hash, base.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            at += 8
        }
        if at < count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while at < count {
                tail |= UInt64(base.load(fromByteOffset: at, as: UInt8.self)) << shift
                shift += 8
                at += 1
            }
            hash = mix(hash, tail)
        }
        return finish(hash)
    }

    @inline(__always)
    private static func mix(_ hash: UInt64, _ word: UInt64) -> UInt64 {
        let product = (hash ^ word) &* 0xFF51_AFD7_ED55_8CCD
        return product ^ (product >> 29)
    }

    @inline(__always)
    private static func finish(_ hash: UInt64) -> UInt32 {
        let mixed = (hash ^ (hash >> 32)) &* 0xC4CE_B9FE_1A85_EC53
        return UInt32(truncatingIfNeeded: mixed ^ (mixed >> 32))
    }
}

/// Byte equality, a word at a time (keys are short, so no call into memcmp).
@inline(__always)
func memoryEqual(_ lhs: UnsafeRawPointer, _ rhs: UnsafeRawPointer, _ count: Int) -> Bool {
    var offset = 0
    while offset + 8 <= count {
        if lhs.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != rhs.loadUnaligned(fromByteOffset: offset, as: UInt64.self) {
            return false
        }
        offset += 8
    }
    while offset < count {
        if lhs.load(fromByteOffset: offset, as: UInt8.self) != rhs.load(fromByteOffset: offset, as: UInt8.self) { return false }
        offset += 1
    }
    return true
}
