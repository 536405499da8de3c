import Foundation

/// A scratch model repository for a test: a fresh folder under the temporary directory holding copies of shipped
/// models. The caller removes it (`defer { try? FileManager.default.removeItem(at: root) }`).
enum TemporaryRepository {
    static func make(_ label: String, with models: [String] = []) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("deepserve-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        for model in models {
            try FileManager.default.copyItem(at: SchedulerTests.models.appendingPathComponent(model), to: root.appendingPathComponent(model))
        }
        return root
    }
}
