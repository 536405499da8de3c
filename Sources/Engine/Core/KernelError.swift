/// What a kernel throws when its inputs do not fit; the plan adds the node's name and type.
struct KernelError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
