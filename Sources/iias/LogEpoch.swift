import Foundation

/// The epoch the log in `directory` (`DATA/log`) signs its tree heads in: 1, or the one a
/// restore began (`DATA/witness/epoch.json`), so that a proof's tree heads are never signed
/// under an origin the log left.
func logEpoch(ofLogDirectory directory: String) -> Int {
    let file = ((directory as NSString).deletingLastPathComponent as NSString).appendingPathComponent("witness/epoch.json")
    guard let data = FileManager.default.contents(atPath: file),
          let fields = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return 1 }
    return fields["epoch"] as? Int ?? 1
}
