import Foundation
import IIASModel

/// How long a request may wait for its answers when its sender gave no deadline, and how
/// often the node looks for requests nearing or past theirs. The defaults are the limits
/// EU Directive 2023/977 sets national single points of contact: 8 hours for flash
/// (urgent, directly accessible information), 3 days for urgent, 7 days otherwise.
public struct RequestDeadlines: Sendable, Equatable {
    public var flashHours: Double = 8
    public var urgentHours: Double = 72
    public var routineHours: Double = 168
    /// How often the deadline check runs (`Node.requestLoop`); short in tests.
    public var checkSeconds: Double = 60

    public init() {}

    /// The span a request of `priority` gets when it names no deadline.
    public func span(for priority: Priority) -> TimeInterval {
        switch priority {
        case .flash: flashHours * 3600
        case .urgent: urgentHours * 3600
        case .routine: routineHours * 3600
        }
    }
}
