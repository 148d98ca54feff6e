/// `Codable` decoding for notification parts through the strict reader, so that
/// `JSONDecoder` and `Notification.parse` accept exactly the same documents.
func decodeValidated<T>(_ decoder: any Decoder, _ read: (JSONValue, String, DocumentReader) -> T?) throws -> T {
    let value = try JSONValue(from: decoder)
    let reader = DocumentReader()
    guard let result = read(value, "", reader), reader.problems.isEmpty else {
        let problems = reader.problems.isEmpty ? [ValidationProblem(path: "", message: "invalid")] : reader.problems
        throw DecodingError.dataCorrupted(.init(
            codingPath: decoder.codingPath,
            debugDescription: NotificationInvalid(problems: problems).description))
    }
    return result
}
