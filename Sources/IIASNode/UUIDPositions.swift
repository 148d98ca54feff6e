import Foundation
import IIASAPI

/// Finds the position of an envelope id in an array of ids, at 8 bytes an id: an open
/// addressing table of positions (linear probing, at most half full) over an array the
/// caller keeps. A `[UUID: Int]` would cost some 40 bytes an id, and a node holds one id
/// per envelope it ever sent or received.
///
/// Ids come from peers, so slots are chosen with Swift's `Hasher` (SipHash, seeded per
/// process): nobody can pick ids that pile up in one run of slots.
///
/// An id alone need not be unique: envelopes from peers are identified by (sender, id),
/// so the same id may sit at several positions (at most one per sender, which keeps the
/// run short). `position(of:in:where:)` tells them apart with the caller's own test on a
/// position (e.g. the record's sender number): nothing but the id is hashed or stored.
struct UUIDPositions: Sendable {
    /// position + 1 of each id, 0 for an empty slot; the count is a power of two.
    private var slots = [UInt32](repeating: 0, count: 16)
    private(set) var count = 0

    private func start(_ id: UUID) -> Int {
        var hasher = Hasher()
        hasher.combine(id)
        return hasher.finalize() & (slots.count - 1)
    }

    /// The position of `id` in `ids`, if it is there.
    func position(of id: UUID, in ids: [UUID]) -> Int? { position(of: id, in: ids) { _ in true } }

    /// The first position of `id` in `ids` that `matches` also accepts.
    func position(of id: UUID, in ids: [UUID], where matches: (Int) -> Bool) -> Int? {
        var slot = start(id)
        while slots[slot] != 0 {
            let position = Int(slots[slot] - 1)
            if ids[position] == id, matches(position) { return position }
            slot = (slot + 1) & (slots.count - 1)
        }
        return nil
    }

    /// Every position of `id` in `ids`, in ascending order.
    func positions(of id: UUID, in ids: [UUID]) -> [Int] {
        var found: [Int] = []
        var slot = start(id)
        while slots[slot] != 0 {
            let position = Int(slots[slot] - 1)
            if ids[position] == id { found.append(position) }
            slot = (slot + 1) & (slots.count - 1)
        }
        return found.sorted()
    }

    /// Records that `ids[position]` is a new id (not already in the table).
    mutating func insert(_ position: Int, of ids: [UUID]) {
        precondition(position < Int(UInt32.max), "more envelopes than a 32-bit position holds")
        if (count + 1) * 2 > slots.count { grow(ids) }
        place(position, ids[position])
        count += 1
    }

    /// Puts `position` in the first free slot of `id`'s run; with `ids`, false instead
    /// when the run already holds the same id at a position `same` calls the same key.
    @discardableResult
    private mutating func place(_ position: Int, _ id: UUID, refusingRepeatsIn ids: [UUID]? = nil,
                                same: (Int, Int) -> Bool = { _, _ in true }) -> Bool {
        var slot = start(id)
        while slots[slot] != 0 {
            if let ids, ids[Int(slots[slot] - 1)] == id, same(Int(slots[slot] - 1), position) { return false }
            slot = (slot + 1) & (slots.count - 1)
        }
        slots[slot] = UInt32(position + 1)
        return true
    }

    private mutating func grow(_ ids: [UUID]) {
        let old = slots
        slots = [UInt32](repeating: 0, count: old.count * 2)
        for stored in old where stored != 0 { place(Int(stored - 1), ids[Int(stored - 1)]) }
    }

    /// Rebuilds the table for every id in `ids` (distinct), e.g. after loading a snapshot.
    init(_ ids: [UUID] = []) {
        slots = [UInt32](repeating: 0, count: Self.capacity(for: ids.count))
        for (position, id) in ids.enumerated() { place(position, id) }
        count = ids.count
    }

    /// The positions of `ids`, or nil when one key occurs twice (a snapshot that lists one
    /// envelope twice is damaged) — checked while the table is built, without a `Set`
    /// of a million ids beside it. Two positions with the same id are the same key when
    /// `same` says so (for envelopes from peers: the same sender); by default always.
    init?(unique ids: [UUID], same: (Int, Int) -> Bool = { _, _ in true }) {
        slots = [UInt32](repeating: 0, count: Self.capacity(for: ids.count))
        for (position, id) in ids.enumerated() {
            guard place(position, id, refusingRepeatsIn: ids, same: same) else { return nil }
        }
        count = ids.count
    }

    private static func capacity(for count: Int) -> Int {
        var capacity = 16
        while capacity < count * 2 + 2 { capacity *= 2 }
        return capacity
    }
}
