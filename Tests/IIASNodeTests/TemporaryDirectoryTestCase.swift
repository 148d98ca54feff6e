import Foundation
import XCTest

/// A test case with a fresh directory of its own, removed afterwards (attachment files).
class TemporaryDirectoryTestCase: XCTestCase {
    var work: String!

    override func setUpWithError() throws {
        work = NSTemporaryDirectory() + String(describing: type(of: self)) + "-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: work) }
}
