// The fuzzing entry point (Scripts/fuzz.sh). Built with libFuzzer (-DFUZZING,
// -sanitize=fuzzer,address) it fuzzes the target named by $IIAS_FUZZ_TARGET; built
// normally it replays files through a target, so that every saved corpus entry and
// every crash found stays a regression check:
//   iias-fuzz TARGET FILE|DIR…      replay (exit 0: no property violated)
//   iias-fuzz --seeds DIR           write the seed corpora (DIR/TARGET/…)
import Foundation
import IIASFuzz

#if FUZZING
nonisolated(unsafe) var target = FuzzTarget.frame

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    let name = ProcessInfo.processInfo.environment["IIAS_FUZZ_TARGET"] ?? ""
    guard let chosen = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("set IIAS_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    target = chosen
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    target.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

/// libFuzzer's driver (from libclang_rt.fuzzer_no_main), called from the entry point
/// SwiftPM gives an executable (it links `main` to `iias_fuzz_main`).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("iias_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    _ = fuzzInitialize(&count, &arguments)
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzOne)
}
#else
/// Replays files through a target (normal builds: no libFuzzer).
@main
struct Replay {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "--seeds", arguments.count == 2 {
            for (target, inputs) in try FuzzTarget.seeds() {
                let folder = URL(fileURLWithPath: arguments[1]).appendingPathComponent(target.rawValue)
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                for (i, bytes) in inputs.enumerated() { try Data(bytes).write(to: folder.appendingPathComponent("seed-\(i)")) }
            }
            exit(0)
        }
        guard arguments.count >= 2, let target = FuzzTarget(rawValue: arguments[0]) else {
            FileHandle.standardError.write(Data("usage: iias-fuzz TARGET FILE|DIR… (TARGET: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))) | iias-fuzz --seeds DIR\n".utf8))
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            let files = isDirectory.boolValue ? (try FileManager.default.contentsOfDirectory(atPath: path)).sorted().map { path + "/" + $0 } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                target.run(Array(data))
                count += 1
            }
        }
        print("replayed \(count) inputs through \(target.rawValue): no property violated")
    }
}
#endif
