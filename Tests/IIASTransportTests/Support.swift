import IIASTestSupport
import IIASTransport

extension TestPKI {
    /// The TLS context of `center` (its tls.crt and tls.key) trusting this PKI's CA and CRL.
    func tlsContext(_ center: String, crl: Bool = true) throws -> OpenSSLContext {
        let dir = centerDirectory(center)
        return try OpenSSLContext(certificateFile: "\(dir)/tls.crt", privateKeyFile: "\(dir)/tls.key",
                                  caFile: caFile, crlFile: crl ? crlFile : nil)
    }
}
