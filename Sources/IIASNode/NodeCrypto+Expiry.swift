import Foundation
import IIASAPI
import IIASCrypto
import IIASModel

extension NodeCrypto {
    /// Our three certificates, the signing and encryption certificates of `peers` found
    /// in the certificates folder, and the loaded CRL's nextUpdate, as of `now`.
    func expiryReport(peers: [CenterID], now: Date = Date()) -> ExpiryReport {
        var items: [ExpiryReport.Item] = []
        func add(_ certificate: Certificate?, _ center: CenterID, _ purpose: KeyPurpose, own: Bool) {
            guard let certificate else { return }
            items.append(.init(center: center, purpose: purpose.rawValue, own: own, serial: certificate.serialNumber,
                               notAfter: certificate.notAfter, now: now))
        }
        add(keys.signingCertificate, center, .signing, own: true)
        add(keys.encryptionCertificate, center, .encryption, own: true)
        add(tlsCertificate, center, .tls, own: true)
        for peer in peers {
            add(certificates.certificate(of: peer, for: .signing), peer, .signing, own: false)
            add(certificates.certificate(of: peer, for: .encryption), peer, .encryption, own: false)
        }
        return ExpiryReport(certificates: items, crlNextUpdate: crlDates?.nextUpdate, now: now)
    }
}
