import COpenSSL
import IIASCrypto

/// An SSL_CTX for IIAS peers: TLS 1.3 only, own center certificate, CA + CRL, mutual verification.
///
/// Why: both roles of a peer connection need the same strict settings; building them once,
/// on the system OpenSSL, keeps every connection from forgetting one (CRL check, no TLS 1.2,
/// client certificate required).
public final class OpenSSLContext: @unchecked Sendable {
    let context: OpaquePointer

    /// Loads `certificateFile`/`privateKeyFile` (PEM), trusts `caFile`, and checks `crlFile` if given.
    /// The private key is read as the center's other keys are (`PrivateKeyFile`: owner-only
    /// file, PEM in locked memory and wiped, `privateKeyPassphrase` for an encrypted one);
    /// OpenSSL then keeps it in its secure heap when `ProcessHardening.apply()` started one.
    public init(certificateFile: String, privateKeyFile: String, caFile: String, crlFile: String?,
                privateKeyPassphrase: [UInt8]? = nil) throws(TLSError) {
        guard let context = SSL_CTX_new(TLS_method()) else { throw openSSLFailure("SSL_CTX_new") }
        self.context = context
        guard iias_SSL_CTX_set_min_proto_version(context, TLS1_3_VERSION) == 1 else { throw openSSLFailure("set_min_proto_version") }
        guard SSL_CTX_use_certificate_chain_file(context, certificateFile) == 1 else { throw openSSLFailure("use_certificate_chain_file") }
        do {
            try PrivateKeyFile.withOpenSSLKey(privateKeyFile, passphrase: privateKeyPassphrase) { key throws(CryptoError) in
                guard SSL_CTX_use_PrivateKey(context, key) == 1 else {
                    throw .invalidKey("OpenSSL use_PrivateKey failed for \(privateKeyFile): \(drainOpenSSLErrors().joined(separator: "; "))")
                }
            }
        } catch {
            throw .privateKey(error.description)
        }
        guard SSL_CTX_check_private_key(context) == 1 else { throw openSSLFailure("check_private_key") }
        guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else { throw openSSLFailure("load_verify_locations") }
        if let crlFile {
            let store = SSL_CTX_get_cert_store(context)
            guard let lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file()),
                  X509_load_crl_file(lookup, crlFile, X509_FILETYPE_PEM) >= 1 else { throw openSSLFailure("load CRL") }
            X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK))
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
    }

    /// Takes ownership of an already configured SSL_CTX (tests build deliberately weak peers with it).
    init(owning context: OpaquePointer) { self.context = context }

    deinit { SSL_CTX_free(context) }
}
