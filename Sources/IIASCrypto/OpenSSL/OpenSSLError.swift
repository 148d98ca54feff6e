import COpenSSL

/// Reads and clears OpenSSL's thread-local error queue. Every failing OpenSSL call is
/// followed by a drain, so that a stale error never surfaces on a later, unrelated call.
enum OpenSSLErrors {
    /// All queued errors as "reason (library)" strings, oldest first; the queue is empty after.
    static func drain() -> [String] {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages
    }

    /// The drained queue as one line, or `fallback` when OpenSSL said nothing.
    static func describe(_ fallback: String) -> String {
        let messages = drain()
        return messages.isEmpty ? fallback : "\(fallback): \(messages.joined(separator: "; "))"
    }
}
