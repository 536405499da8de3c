import CHTTPShims

/// Where the server's certificate chain and private key are (PEM files).
public struct TLSConfiguration: Sendable {
    public var certificatePath: String
    public var privateKeyPath: String

    public init(certificatePath: String, privateKeyPath: String) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }
}

public struct TLSSetupError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// An OpenSSL server context (TLS 1.2 and up) loaded once and shared by every connection.
final class TLSContext: @unchecked Sendable {
    // OpenSSL contexts are safe to share once configured; we never change it after init.
    let pointer: UnsafeMutableRawPointer

    init(_ configuration: TLSConfiguration) throws(TLSSetupError) {
        var message = [CChar](repeating: 0, count: 512)
        guard let pointer = ds_tls_context_new(configuration.certificatePath, configuration.privateKeyPath, &message, message.count) else {
            throw TLSSetupError(description: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        self.pointer = pointer
    }

    deinit { ds_tls_context_free(pointer) }
}
