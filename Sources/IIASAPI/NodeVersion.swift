import Foundation

/// The software version a node announces in HELLO and status.
public enum NodeVersion {
    public static let current = "0.5.0"
}
