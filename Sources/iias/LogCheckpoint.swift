import ArgumentParser
import Foundation
import IIASLog

extension Log {
    /// `iias log checkpoint`: the log's newest signed checkpoint with every cosignature its
    /// peers returned for it, as one C2SP signed note any checkpoint tool reads.
    struct CheckpointCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "checkpoint",
            abstract: "Print the newest checkpoint with the cosignatures the peers' witnesses returned for it.",
            discussion: """
            Example:
              iias log checkpoint DATA/log
              iias log checkpoint DATA/log --json

            Prints the signed note: the body (origin, size, root), an empty line, the log's
            signature line, then one cosignature line per peer center that cosigned this
            very checkpoint (DATA/witness/cosigned-by/). Each line verifies with that
            center's witness certificate (cosignature/v1). --json prints the note with its
            size, root and cosigners. Exit codes: 0 printed, 1 no checkpoint or unreadable, 2 usage.
            """
        )

        @Argument(help: ArgumentHelp("The log directory.", valueName: "dir")) var dir: String
        @Flag(help: "Print one JSON object.") var json = false

        private struct Output: Encodable {
            var treeSize: UInt64
            var rootHash: String
            var cosignedBy: [String]
            var note: String
        }

        func run() async throws {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CLIFailure.usage("\(dir) is not a directory", hint: "pass the node's log folder, e.g. DATA/log")
            }
            let path = (dir as NSString).appendingPathComponent(LogStore.checkpointFileName)
            let read: [UInt8]?
            do { read = try DurableFile.read(path, limit: WitnessFolder.maximumFileBytes) } catch {
                throw CLIFailure.invalid("\(path) cannot be read: \(error)", hint: "check the folder's permissions")
            }
            guard let bytes = read else { throw CLIFailure.invalid("\(dir) holds no checkpoint yet", hint: "a node signs one after its first entries") }
            let note: SignedNote, checkpoint: Checkpoint
            do {
                note = WitnessFolder(logDirectory: dir).collected(for: try SignedNote(parsing: String(decoding: bytes, as: UTF8.self)))
                checkpoint = try note.checkpoint()
            } catch {
                throw CLIFailure.invalid("\(path): \(error)")
            }
            guard json else { return print(note.text, terminator: "") }
            let cosigners = Cosignature.all(in: note).map(\.name).filter { $0 != checkpoint.origin }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(Output(treeSize: checkpoint.treeSize, rootHash: Data(checkpoint.rootHash).base64EncodedString(),
                                                             cosignedBy: cosigners, note: note.text)), as: UTF8.self))
        }
    }
}
