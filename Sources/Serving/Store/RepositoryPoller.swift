import Dispatch
import Foundation
import Logging

/// Watches the model repository (Triton's "poll" mode): every interval it compares each model folder's files with
/// what it saw last, loads models that appeared, reloads those whose files changed and unloads those removed. A
/// reload that fails keeps the serving version, as a control-API load does; since the files' fingerprint is
/// remembered, a half-copied model is retried only once its files change again (the copy finishing).
public final class RepositoryPoller: @unchecked Sendable {
    private let repository: ModelRepository
    private let logger: Logger
    private let queue = DispatchQueue(label: "deepserve.repository-poller", qos: .utility)
    private let interval: Duration
    /// Made by `start()`: Dispatch traps on releasing a source that was never activated.
    private var timer: DispatchSourceTimer?
    /// Per model: the fingerprint of its files when last looked at. Touched only on `queue`.
    private var seen: [String: String]

    /// Takes the fingerprints now, so call it before the first `loadAll`: a change made during the load is then
    /// picked up by the first poll instead of being missed.
    public init(repository: ModelRepository, interval: Duration, logger: Logger) {
        self.repository = repository
        self.logger = logger
        self.interval = interval
        seen = Self.fingerprints(repository)
    }

    public func start() {
        queue.sync {
            guard timer == nil else { return }
            let timer = DispatchSource.makeTimerSource(queue: queue)
            let nanoseconds = Int(interval.components.seconds) * 1_000_000_000 + Int(interval.components.attoseconds / 1_000_000_000)
            timer.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds), leeway: .milliseconds(100))
            timer.setEventHandler { [weak self] in self?.poll() }
            timer.activate()
            self.timer = timer
        }
    }

    public func stop() { queue.sync { timer?.cancel() } }

    /// One pass; runs on the poller's queue (tests call `pollNow`).
    private func poll() {
        let now = Self.fingerprints(repository)
        for (name, fingerprint) in now.sorted(by: { $0.key < $1.key }) where seen[name] != fingerprint {
            let verb = seen[name] == nil ? "new" : "changed"
            do {
                let model = try repository.load(name)
                logger.info("repository poll: \(verb) model \(name) loaded, version \(model.version)")
            } catch {
                logger.error("repository poll: \(verb) model \(name) failed to load, the serving version (if any) stays: \(error)")
            }
        }
        for name in seen.keys.sorted() where now[name] == nil {
            do {
                try repository.unload(name)
                logger.info("repository poll: model \(name) removed from the repository, unloaded")
            } catch {
                logger.debug("repository poll: model \(name) removed, was not loaded")
            }
        }
        seen = now
    }

    /// Polls once and returns when done.
    public func pollNow() { queue.sync { poll() } }

    /// Name → a string that changes when any file of the model's folder (recursively) is added, removed, resized or
    /// rewritten (modification time).
    static func fingerprints(_ repository: ModelRepository) -> [String: String] {
        guard let names = try? repository.modelNames() else { return [:] }
        var result: [String: String] = [:]
        let manager = FileManager.default
        for name in names {
            let folder = repository.root.appendingPathComponent(name)
            guard let files = manager.enumerator(atPath: folder.path) else { continue }
            var entries: [String] = []
            for case let file as String in files {
                guard let attributes = try? manager.attributesOfItem(atPath: folder.appendingPathComponent(file).path),
                      attributes[.type] as? FileAttributeType == .typeRegular else { continue }
                let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
                entries.append("\(file):\(attributes[.size] as? Int ?? -1):\(modified)")
            }
            result[name] = entries.sorted().joined(separator: "|")
        }
        return result
    }
}
