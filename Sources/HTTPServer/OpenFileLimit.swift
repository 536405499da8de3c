import Glibc

extension HTTPServer {
    /// Raises the process's soft limit on open files to its hard limit. The soft limit is often 1,024, below the
    /// server's default cap of 4,096 connections, and every connection is a descriptor. Call it once at start-up.
    /// Returns the soft limit in force afterwards (nil if it couldn't be read).
    @discardableResult
    public static func raiseOpenFileLimit() -> Int? {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return nil }
        // An unlimited hard limit (RLIM_INFINITY, all ones) isn't a value the kernel accepts for open files (it stops at fs.nr_open, 2^20 by
        // default): aim for that instead.
        let target = limit.rlim_max == rlim_t.max ? rlim_t(1 << 20) : limit.rlim_max
        if limit.rlim_cur < target {
            var raised = limit
            raised.rlim_cur = target
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    private static var resource: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }
}
