// libFuzzer entry for MultipartFormData: parses the input as a form body (boundary "B" plus the first byte's letter)
// and, when it parses, checks the round trip: the parts written back with the same boundary parse to the same parts.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMultipartFormData(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let boundary = "B" + String(UnicodeScalar(UInt8(ascii: "a") + data[0] % 26))
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    guard let form = try? MultipartFormData(body: body, boundary: boundary) else { return 0 }
    precondition(form.parts.count <= MultipartFormData.maxParts, "more parts than the cap")
    var written: [UInt8] = []
    for part in form.parts {
        written += Array("--\(boundary)\r\n".utf8)
        for (name, value) in part.headers.fields { written += Array("\(name): \(value)\r\n".utf8) }
        written += Array("\r\n".utf8) + part.body + Array("\r\n".utf8)
    }
    written += Array("--\(boundary)--".utf8)
    let again: MultipartFormData
    do { again = try MultipartFormData(body: written, boundary: boundary) } catch {
        preconditionFailure("parts written back do not parse: \(error)")
    }
    precondition(again.parts.count == form.parts.count, "part count changed in the round trip")
    for (a, b) in zip(form.parts, again.parts) {
        precondition(a.body == b.body, "a part's body changed in the round trip")
        precondition(a.headers.fields.map(\.value) == b.headers.fields.map(\.value), "a part's headers changed")
    }
    return 0
}
