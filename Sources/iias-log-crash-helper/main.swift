// Test helper only (not a product): appends to the log in DIR from 8 concurrent
// tasks forever, printing "INDEX PAYLOAD" after each append returned (i.e. after
// its fdatasync). The crash test SIGKILLs it and checks every printed index.
import Foundation
import IIASLog

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: iias-log-crash-helper DIR TAG\n".utf8))
    exit(2)
}
let log = try LogStore(directory: arguments[1], segmentSize: 16 * 1024)
let tag = arguments[2]
let lock = NSLock()
await withThrowingTaskGroup(of: Void.self) { group in
    for worker in 0..<8 {
        group.addTask {
            var n = 0
            while true {
                let payload = "\(tag)-\(worker)-\(n)"
                let index = try await log.append(type: .sent, payload: Array(payload.utf8))
                let line = Array("\(index) \(payload)\n".utf8)
                lock.withLock { _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) } }
                n += 1
            }
        }
    }
}
