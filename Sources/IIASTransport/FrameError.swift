/// Why a frame was refused. A refused frame closes the connection it came on, never the listener.
public enum FrameError: Error, Sendable, Equatable {
    /// The header announces a frame longer than the configured maximum (checked before any allocation).
    case oversize(announced: UInt32, maximum: UInt32)
    /// The length field is 0, so there is not even a type byte.
    case emptyFrame
    /// The type byte names no known frame type.
    case unknownType(UInt8)
    /// A HELLO body does not follow the HELLO layout (wrong lengths, bad UTF-8, bad center id).
    case malformedHello(String)
    /// An ERROR body is shorter than its code or its reason is not UTF-8.
    case malformedError
    /// A frame to encode is larger than the configured maximum.
    case frameTooLargeToSend(Int)
}
