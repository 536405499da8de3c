/// The bytes the decoders may still allocate for one request: every decode charges its output, and its large
/// intermediates, before allocating them, so the images of a request together can't decode to more than `limit`
/// however small each is on the wire. One request decodes its images one after another, so this needs no lock;
/// don't share one between tasks.
public final class DecodeBudget {
    public let limit: Int
    /// Bytes charged so far: everything the decoders have allocated for these images (row buffers included).
    public private(set) var used = 0

    public init(limit: Int) {
        self.limit = limit
    }

    /// A budget of `limits.maxDecodedBytes`.
    public convenience init(_ limits: ImageLimits) {
        self.init(limit: limits.maxDecodedBytes)
    }

    /// Records `bytes` about to be allocated; throws `.overBudget`, recording nothing, if they don't fit.
    public func charge(_ bytes: Int) throws(ImageError) {
        let (total, overflow) = used.addingReportingOverflow(bytes)
        guard bytes >= 0, !overflow, total <= limit else { throw .overBudget(needed: bytes, used: used, limit: limit) }
        used = total
    }

    /// `count` × `size` bytes (an image's width × height × channels, say), checked for overflow, then charged.
    public func charge(_ count: Int, times size: Int) throws(ImageError) {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow else { throw .overBudget(needed: .max, used: used, limit: limit) }
        try charge(bytes)
    }
}
