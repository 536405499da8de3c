import Foundation
import HTTPServer

/// One image of a request, with the file name a multipart upload gave it.
struct ImageUpload {
    /// The file as it came (bytes, as `Image.decode` reads them: a raw body is passed on without a copy).
    var bytes: [UInt8]
    var filename: String?
}

/// Images in a request body: raw bytes, multipart/form-data files, or base64 in JSON.
enum ImagePayload {
    /// Most images one request may carry (they run as one batch).
    static let maxImages = 256

    /// The images, and whether the request sent exactly one the plain way (raw body or `"image"`), which is answered
    /// with a bare `predictions` rather than a list of `results`.
    static func images(body: [UInt8], contentType: String?) throws -> (images: [ImageUpload], single: Bool) {
        let type = contentType?.lowercased() ?? "application/octet-stream"
        guard !body.isEmpty else { throw ServingError.badRequest("the request has no image: send it as the body") }
        if type.hasPrefix("application/json") {
            let object = try JSONBody.object(bytes: body[...], contentType: type)
            if let one = object["image"] as? String { return ([ImageUpload(bytes: try decodeBase64(one, index: nil))], true) }
            if let many = object["images"] as? [String], !many.isEmpty, many.count <= maxImages {
                return (try many.enumerated().map { ImageUpload(bytes: try decodeBase64($0.element, index: $0.offset)) }, false)
            }
            throw ServingError.badRequest(#"JSON bodies need "image" (base64) or "images" (a list of 1 to 256 base64 strings)"#)
        }
        if type.hasPrefix("multipart/form-data") { return (try formFiles(body, contentType: contentType ?? ""), false) }
        let accepted = ["image/", "application/octet-stream"]
        guard accepted.contains(where: { type.hasPrefix($0) }) else {
            throw ServingError.unsupportedMediaType("send an image (image/png, image/jpeg, image/x-portable-graymap…) or JSON, not \(type)")
        }
        return ([ImageUpload(bytes: body)], true)
    }

    /// Every file part of a form (a part with a file name, or an image or octet-stream type); other fields are ignored.
    private static func formFiles(_ body: [UInt8], contentType: String) throws -> [ImageUpload] {
        guard let boundary = MultipartFormData.boundary(contentType: contentType) else {
            throw ServingError.badRequest("multipart/form-data needs a boundary parameter")
        }
        let form: MultipartFormData
        do { form = try MultipartFormData(body: body, boundary: boundary) } catch {
            throw ServingError.badRequest(error.description)
        }
        let files = form.parts.filter { part in
            let type = part.contentType?.lowercased() ?? ""
            return part.filename != nil || type.hasPrefix("image/") || type.hasPrefix("application/octet-stream")
        }
        guard !files.isEmpty else { throw ServingError.badRequest("the form has no file part: attach the image as a file") }
        guard files.count <= maxImages else { throw ServingError.badRequest("at most \(maxImages) files per request, got \(files.count)") }
        return files.map { ImageUpload(bytes: $0.body, filename: $0.filename ?? $0.name) }
    }

    private static func decodeBase64(_ text: String, index: Int?) throws -> [UInt8] {
        let payload = text.range(of: "base64,").map { String(text[$0.upperBound...]) } ?? text   // data: URLs too
        guard let data = Data(base64Encoded: payload, options: .ignoreUnknownCharacters) else {
            throw ServingError.badRequest("image\(index.map { " \($0)" } ?? "") is not valid base64")
        }
        return [UInt8](data)
    }
}
