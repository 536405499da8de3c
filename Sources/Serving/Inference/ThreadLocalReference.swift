import Foundation

/// An object the calling thread has set aside for itself (a POSIX thread-specific key), unretained: what a worker
/// thread sets while it runs something and clears after (`InferenceScheduler`'s turn, `DeferredMetrics`' buffer), the
/// owner keeping the object alive meanwhile. Cheaper than `Thread.current.threadDictionary` on a request's path.
struct ThreadLocalReference<Object: AnyObject>: @unchecked Sendable {
    private let key: pthread_key_t

    init() {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        self.key = key
    }

    /// The calling thread's object, nil until it sets one.
    var value: Object? {
        get { pthread_getspecific(key).map { Unmanaged<Object>.fromOpaque($0).takeUnretainedValue() } }
        nonmutating set { pthread_setspecific(key, newValue.map { Unmanaged.passUnretained($0).toOpaque() }) }
    }
}
