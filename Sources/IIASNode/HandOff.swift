import Synchronization
import IIASAPI

/// Items passed from any thread to one consumer that runs later (an actor, an event loop),
/// in the order they were added, taken all at once. `add` says when the list was empty, so
/// the caller schedules one drain for everything added until that drain runs — not one
/// task or loop turn per item, which would also not keep the order of tasks.
final class HandOff<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])

    /// Appends `elements`; true if nothing was waiting, so a drain must be scheduled.
    func add(_ elements: some Sequence<Element>) -> Bool {
        items.withLock { items in
            defer { items.append(contentsOf: elements) }
            return items.isEmpty
        }
    }

    /// Everything added since the last `take`, in order.
    func take() -> [Element] {
        items.withLock { items in
            defer { items = [] }
            return items
        }
    }
}
