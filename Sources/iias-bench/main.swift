import CSodium
import Foundation
import IIASCrypto
import IIASModel

// Measures the envelope against the raw libsodium primitives it is made of, in the same
// run on the same machine, and prints rates and ratios. Run through Scripts/bench.sh
// (release build). Usage: iias-bench [--json FILE] [--seconds N]

var jsonPath: String? = nil
var pkiPath: String? = nil
var secondsPerCase = 2.0
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--json": jsonPath = arguments.popFirst()
    case "--seconds": secondsPerCase = Double(arguments.popFirst() ?? "") ?? secondsPerCase
    case "--pki": pkiPath = arguments.popFirst()
    default:
        FileHandle.standardError.write(Data("usage: iias-bench --pki DIR [--json FILE] [--seconds N]\n".utf8))
        exit(2)
    }
}

/// Runs `body` repeatedly for about `secondsPerCase` and returns operations per second.
@MainActor func rate(_ name: String, _ body: () -> Void) -> Double {
    for _ in 0..<50 { body() }  // warm-up
    var count = 0
    let start = DispatchTime.now().uptimeNanoseconds
    var elapsed: UInt64 = 0
    let budget = UInt64(secondsPerCase * 1e9)
    while elapsed < budget {
        for _ in 0..<20 { body() }
        count += 20
        elapsed = DispatchTime.now().uptimeNanoseconds - start
    }
    return Double(count) / (Double(elapsed) / 1e9)
}

_ = sodium_init()
guard let pkiPath else {
    FileHandle.standardError.write(Data("usage: iias-bench --pki DIR [--json FILE] [--seconds N] (DIR from Scripts/pki.sh with AZ GE UA MD)\n".utf8))
    exit(2)
}

// A 1 KiB notification from AZ to three centers, with the keys and certificates of a real PKI.
let recipients = ["GE", "UA", "MD"].map { CenterID($0)! }
func centerKeys(_ id: String) -> CenterKeys { try! CenterKeys(directory: "\(pkiPath)/centers/\(id)") }
let signer = centerKeys("AZ").signingKey
let recipientKeys = Dictionary(uniqueKeysWithValues: recipients.map { ($0, centerKeys($0.rawValue).encryptionKey) })
let trust = try! TrustAnchor(caFile: "\(pkiPath)/ca.crt", crlFile: "\(pkiPath)/crl.pem")
let verifier = EnvelopeVerifier(trust: trust, certificates: try! CertificateDirectory("\(pkiPath)/centers"))
let document: [String: Any] = [
    "version": FormalNotification.currentVersion, "id": UUID().uuidString.lowercased(), "sender": "AZ",
    "recipients": recipients.map(\.rawValue), "created": "2026-11-22T21:05:09.120Z", "kind": "notification",
    "category": "terrorism", "priority": "flash", "handling": ["tlp": "TLP:AMBER"],
    "subject": "Planned attack on the pipeline", "summary": String(repeating: "x", count: 700), "entities": [Any](),
]
let notification = try! FormalNotification.parse(try! JSONSerialization.data(withJSONObject: document))
let plaintextSize = notification.encoded().count
let publicKeys = recipientKeys.mapValues(\.publicKey)
// Version 1 (a sealed box per recipient) is what the raw sums below model; version 2 is
// what a node sends, its content keys wrapped under the node's epoch key.
let envelope = try! Envelope.seal(notification, signer: signer, recipientKeys: publicKeys, transport: .sealedBoxes)
let nodeEpoch = WrappingEpoch()
let envelopeV2 = try! Envelope.seal(notification, signer: signer, recipientKeys: publicKeys, transport: .wrapped(nodeEpoch))
let ge = recipients[0]

// The raw primitives of the same work, called on libsodium directly.
let message = [UInt8](repeating: 0x41, count: plaintextSize)
let signedSize = envelope.signedMessage.count
let toSign = [UInt8](repeating: 0x42, count: signedSize)
var sk = [UInt8](repeating: 0, count: 64), pk = [UInt8](repeating: 0, count: 32)
crypto_sign_keypair(&pk, &sk)
var boxPK = [UInt8](repeating: 0, count: 32), boxSK = [UInt8](repeating: 0, count: 32)
crypto_box_keypair(&boxPK, &boxSK)
var key = [UInt8](repeating: 7, count: 32), nonce = [UInt8](repeating: 9, count: 24)
var signature = [UInt8](repeating: 0, count: 64)
crypto_sign_detached(&signature, nil, toSign, UInt64(toSign.count), sk)
var sealedKey = [UInt8](repeating: 0, count: 80)
crypto_box_seal(&sealedKey, key, 32, boxPK)
var ciphertext = [UInt8](repeating: 0, count: message.count + 16)
var clen: UInt64 = 0
crypto_aead_xchacha20poly1305_ietf_encrypt(&ciphertext, &clen, message, UInt64(message.count), [1, 2, 3], 3, nil, nonce, key)

print("IIAS envelope benchmark — notification \(plaintextSize) bytes, envelope \(envelope.bytes.count) bytes, 3 recipients")
print("(rates are single-threaded operations per second on this machine)\n")

let rawSign = rate("sign") { crypto_sign_detached(&signature, nil, toSign, UInt64(toSign.count), sk) }
let rawVerify = rate("verify") { _ = crypto_sign_verify_detached(signature, toSign, UInt64(toSign.count), pk) }
let rawSeal = rate("box_seal") { crypto_box_seal(&sealedKey, key, 32, boxPK) }
var opened = [UInt8](repeating: 0, count: 32)
let rawOpen = rate("box_seal_open") { _ = crypto_box_seal_open(&opened, sealedKey, 80, boxPK, boxSK) }
let rawEncrypt = rate("aead_encrypt") {
    crypto_aead_xchacha20poly1305_ietf_encrypt(&ciphertext, &clen, message, UInt64(message.count), [1, 2, 3], 3, nil, nonce, key)
}
var decrypted = [UInt8](repeating: 0, count: message.count)
var mlen: UInt64 = 0
let rawDecrypt = rate("aead_decrypt") {
    _ = crypto_aead_xchacha20poly1305_ietf_decrypt(&decrypted, &mlen, nil, ciphertext, clen, [1, 2, 3], 3, nonce, key)
}

let sealRate = rate("seal") { _ = try! Envelope.seal(notification, signer: signer, recipientKeys: publicKeys, transport: .sealedBoxes) }
let verifyOpenRate = rate("verify+open") {
    let parsed = try! Envelope(parsing: envelope.bytes)
    _ = try! verifier.verify(parsed).open(as: ge, with: recipientKeys[ge]!)
}
let sealV2Rate = rate("seal v2") {
    _ = try! Envelope.seal(notification, signer: signer, recipientKeys: publicKeys, transport: .wrapped(nodeEpoch))
}
let verifyOpenV2Rate = rate("verify+open v2") {
    _ = try! verifier.verify(try! Envelope(parsing: envelopeV2.bytes)).open(as: ge, with: recipientKeys[ge]!)
}

// Where the time of verify+open goes, stage by stage.
let parseRate = rate("parse") { _ = try! Envelope(parsing: envelope.bytes) }
let parsedOnce = try! Envelope(parsing: envelope.bytes)
let verifyRate = rate("verify") { _ = try! verifier.verify(parsedOnce) }
let verifiedOnce = try! verifier.verify(parsedOnce)
let openRate = rate("open") { _ = try! verifiedOnce.open(as: ge, with: recipientKeys[ge]!) }
let notificationBytes = notification.encoded()
let notificationParseRate = rate("notification parse") { _ = try! FormalNotification.parse(notificationBytes) }

// The raw cost of one seal: 3 sealed boxes + 1 AEAD encryption + 1 signature.
let rawSealSeconds = 3 / rawSeal + 1 / rawEncrypt + 1 / rawSign
// The raw cost of verify + open: 1 signature check + 1 sealed-box open + 1 AEAD decryption.
let rawOpenSeconds = 1 / rawVerify + 1 / rawOpen + 1 / rawDecrypt

func us(_ perSecond: Double) -> String { String(format: "%8.1f µs", 1e6 / perSecond) }
func row(_ name: String, _ perSecond: Double, width: Int = 44) {
    print(name.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "%10.0f /s", perSecond) + "  " + us(perSecond))
}
print("raw libsodium primitives")
row("  Ed25519 sign (\(signedSize) B)", rawSign)
row("  Ed25519 verify (\(signedSize) B)", rawVerify)
row("  X25519 sealed box (32 B key)", rawSeal)
row("  X25519 sealed box open", rawOpen)
row("  XChaCha20-Poly1305 encrypt (\(plaintextSize) B)", rawEncrypt)
row("  XChaCha20-Poly1305 decrypt (\(plaintextSize) B)", rawDecrypt)
print("\nenvelope, version 1 (a sealed box per recipient)")
row("  seal to 3 recipients", sealRate)
row("  raw sum: 3 seals + encrypt + sign", 1 / rawSealSeconds)
row("  parse + verify + open as one recipient", verifyOpenRate)
row("  raw sum: verify + open + decrypt", 1 / rawOpenSeconds)
print("envelope, version 2 (content keys wrapped under the node's epoch key, X25519 once a minute)")
row("  seal to 3 recipients", sealV2Rate)
row("  parse + verify + open as one recipient", verifyOpenV2Rate)
print("\nverify+open by stage")
row("  envelope parse (layout + header JSON)", parseRate)
row("  verify (certificate cached + Ed25519)", verifyRate)
row("  open (sealed box + AEAD + notification)", openRate)
row("  notification parse + validate", notificationParseRate)

// One notification to ONE recipient, as the node carries it (Sources/IIASNode): the
// primitives on that path are the "crypto limit" Scripts/bench/summary.py sets bulk
// node throughput against. What each side does per notification:
//   sender     submit: Ed25519 sign + 1 sealed box (the recipient's key) + AEAD encrypt, and
//              1 sealed box of the outbox summary to itself (the operator action it logs)
//   recipient  check: Ed25519 verify (once; open does not verify again) + sealed-box open
//              + AEAD decrypt; answer: Ed25519 sign of its delivery receipt
//   sender     receipt: Ed25519 verify
// Beside these the sender checks the recipient's encryption certificate (chain + CRL,
// OpenSSL) on every submission — not cached, unlike the verifier's signing-certificate
// check; measured and printed as overhead, not counted in the limit.
let oneRecipient = [ge]
let oneDocument = document.merging(["recipients": [ge.rawValue]]) { $1 }
let oneNotification = try! FormalNotification.parse(try! JSONSerialization.data(withJSONObject: oneDocument))
let oneKeys = [ge: recipientKeys[ge]!.publicKey]
let oneEnvelope = try! Envelope.seal(oneNotification, signer: signer, recipientKeys: oneKeys, transport: .wrapped(nodeEpoch))
let oneSigned = oneEnvelope.signedMessage
let geSigner = centerKeys("GE").signingKey
let oneReceipt = Envelope.receipt(for: oneEnvelope, from: ge, signer: geSigner, outcome: .delivered, logIndex: 7)
let receiptSigned = oneReceipt.signedMessage
let summaryBytes = [UInt8](#"{"category":"terrorism","priority":"flash","subject":"Planned attack on the pipeline"}"#.utf8)
let azSummaryKey = centerKeys("AZ").encryptionKey.selfSealingKey(for: .outboxSummary)
let summaryAssociatedData = Array("IIAS-outbox-summary\0".utf8) + [UInt8](repeating: 7, count: 16)
var summaryCiphertext = [UInt8](repeating: 0, count: summaryBytes.count + 16)
var summaryNonce = [UInt8](repeating: 0, count: 24)
/// The outbox summary's record on libsodium directly: a random nonce and an encryption.
let rawSummaryEncrypt = rate("summary aead_encrypt") {
    randombytes_buf(&summaryNonce, 24)
    crypto_aead_xchacha20poly1305_ietf_encrypt(&summaryCiphertext, &clen, summaryBytes, UInt64(summaryBytes.count),
                                               summaryAssociatedData, UInt64(summaryAssociatedData.count), nil, summaryNonce, key)
}
let certificateDirectory = try! CertificateDirectory("\(pkiPath)/centers")

/// Ed25519 sign and verify of `count` bytes on libsodium directly, as a pair of rates.
@MainActor func signAndVerify(_ count: Int) -> (sign: Double, verify: Double) {
    let message = [UInt8](repeating: 0x43, count: count)
    var signature = [UInt8](repeating: 0, count: 64)
    let sign = rate("sign \(count)") { crypto_sign_detached(&signature, nil, message, UInt64(count), sk) }
    let verify = rate("verify \(count)") { _ = crypto_sign_verify_detached(signature, message, UInt64(count), pk) }
    return (sign, verify)
}
let envelopeEd25519 = signAndVerify(oneSigned.count)
let receiptEd25519 = signAndVerify(receiptSigned.count)
let sealStep = "X25519 sealed box, content key for the recipient", openStep = "X25519 sealed box open, content key"
/// `perRecipient`: done once for each recipient (summary.py scales those for three).
let pathSteps: [(side: String, what: String, perSecond: Double, perRecipient: Bool)] = [
    ("sender", "Ed25519 sign, envelope (\(oneSigned.count) B)", envelopeEd25519.sign, false),
    ("sender", sealStep, rawSeal, true),
    ("sender", "XChaCha20-Poly1305 encrypt (\(plaintextSize) B)", rawEncrypt, false),
    ("sender", "XChaCha20-Poly1305 encrypt, outbox summary (\(summaryBytes.count) B)", rawSummaryEncrypt, false),
    ("recipient", "Ed25519 verify, envelope (once)", envelopeEd25519.verify, true),
    ("recipient", openStep, rawOpen, true),
    ("recipient", "XChaCha20-Poly1305 decrypt (\(plaintextSize) B)", rawDecrypt, true),
    ("recipient", "Ed25519 sign, delivery receipt (\(receiptSigned.count) B)", receiptEd25519.sign, true),
    ("sender", "Ed25519 verify, delivery receipt", receiptEd25519.verify, true),
]
let pathSeconds = pathSteps.reduce(0) { $0 + 1 / $1.perSecond }
// What a node's path costs with version 2: each sealed box and its opening become an
// AEAD of the 32-byte content key under the epoch's wrap key (the exchange that derives
// it, once a minute per recipient, is not per notification).
var wrappedKey = [UInt8](repeating: 0, count: 48)
let wrapKey = [UInt8](repeating: 5, count: 32)
let wrapAD = [UInt8](repeating: 0x61, count: 39)
let rawWrap = rate("wrap") {
    crypto_aead_xchacha20poly1305_ietf_encrypt(&wrappedKey, &clen, key, 32, wrapAD, UInt64(wrapAD.count), nil, nonce, wrapKey)
}
let rawUnwrap = rate("unwrap") {
    _ = crypto_aead_xchacha20poly1305_ietf_decrypt(&opened, &mlen, nil, wrappedKey, 48, wrapAD, UInt64(wrapAD.count), nonce, wrapKey)
}
let wrapStep = "XChaCha20-Poly1305 wrap, content key (epoch key)", unwrapStep = "XChaCha20-Poly1305 unwrap of the content key"
let amortizedSteps = pathSteps.map { step in
    switch step.what {
    case sealStep: (side: step.side, what: wrapStep, perSecond: rawWrap, perRecipient: true)
    case openStep: (side: step.side, what: unwrapStep, perSecond: rawUnwrap, perRecipient: true)
    default: step
    }
}
let amortizedSeconds = amortizedSteps.reduce(0) { $0 + 1 / $1.perSecond }
let cores = ProcessInfo.processInfo.activeProcessorCount

// The same path through IIASCrypto, and the per-submission certificate check.
let oneSealRate = rate("seal 1") {
    _ = try! Envelope.seal(oneNotification, signer: signer, recipientKeys: oneKeys, transport: .wrapped(nodeEpoch))
}
let oneOpenRate = rate("verify+open 1") {
    _ = try! verifier.verify(try! Envelope(parsing: oneEnvelope.bytes)).open(as: ge, with: recipientKeys[ge]!)
}
let receiptMakeRate = rate("receipt") {
    _ = Envelope.receipt(for: oneEnvelope, from: ge, signer: geSigner, outcome: .delivered, logIndex: 7)
}
let receiptCheckRate = rate("receipt verify") { _ = try! verifier.verify(try! Envelope(parsing: oneReceipt.bytes)) }
let summarySealRate = rate("summary seal") { _ = azSummaryKey.seal(summaryBytes, associatedData: summaryAssociatedData) }
let certificateCheckRate = rate("certificate check") { _ = try! certificateDirectory.encryptionKeys(for: oneRecipient, trust: trust) }
let envelopePathSeconds = 1 / oneSealRate + 1 / summarySealRate + 1 / oneOpenRate + 1 / receiptMakeRate + 1 / receiptCheckRate

print("\none notification to ONE recipient, the primitives on its path (\(oneEnvelope.bytes.count) B envelope)")
for step in pathSteps { row("  \(step.side.padding(toLength: 9, withPad: " ", startingAt: 0)) \(step.what)", step.perSecond, width: 64) }
print(String(format: "  sum %.1f µs CPU per notification → crypto limit %.0f /s on %d cores", pathSeconds * 1e6, Double(cores) / pathSeconds, cores))
print("version 2 on the same path: the sealed box and its opening become")
for step in amortizedSteps where step.what == wrapStep || step.what == unwrapStep {
    row("  \(step.side.padding(toLength: 9, withPad: " ", startingAt: 0)) \(step.what)", step.perSecond, width: 64)
}
print(String(format: "  sum %.1f µs CPU per notification → amortized crypto limit %.0f /s on %d cores",
             amortizedSeconds * 1e6, Double(cores) / amortizedSeconds, cores))
print("the same path through IIASCrypto (version 2, as a node sends)")
row("  seal to 1 recipient", oneSealRate)
row("  outbox summary encrypted for the sender itself", summarySealRate)
row("  parse + verify + open as the recipient", oneOpenRate)
row("  delivery receipt made and signed", receiptMakeRate)
row("  delivery receipt parsed + verified", receiptCheckRate)
print(String(format: "  sum %.1f µs (%.2fx the raw primitives of version 2)", envelopePathSeconds * 1e6, envelopePathSeconds / amortizedSeconds))
row("  + recipient certificate check (a node: once a minute per recipient)", certificateCheckRate)

let sealRatio = (1 / sealRate) / rawSealSeconds
let openRatio = (1 / verifyOpenRate) / rawOpenSeconds
let attachment = try! AttachmentThroughput(mebibytes: 256)
attachment.printRows()

print(String(format: "\nseal cost / raw primitives:        %.2fx (target ≤ 1.5x)", sealRatio))
print(String(format: "verify+open cost / raw primitives: %.2fx (target ≤ 1.5x)", openRatio))

if let jsonPath {
    let result: [String: Any] = [
        "notificationBytes": plaintextSize, "envelopeBytes": envelope.bytes.count,
        "raw": ["sign": rawSign, "verify": rawVerify, "boxSeal": rawSeal, "boxSealOpen": rawOpen,
                "aeadEncrypt": rawEncrypt, "aeadDecrypt": rawDecrypt],
        "sealPerSecond": sealRate, "verifyOpenPerSecond": verifyOpenRate,
        "version2": ["sealPerSecond": sealV2Rate, "verifyOpenPerSecond": verifyOpenV2Rate, "envelopeBytes": envelopeV2.bytes.count],
        "sealRatio": sealRatio, "verifyOpenRatio": openRatio, "attachment": attachment.json,
        "oneRecipientPath": [
            "envelopeBytes": oneEnvelope.bytes.count, "signedBytes": oneSigned.count, "receiptSignedBytes": receiptSigned.count,
            "steps": pathSteps.map { ["side": $0.side, "what": $0.what, "microseconds": 1e6 / $0.perSecond, "perRecipient": $0.perRecipient] },
            "cpuMicroseconds": pathSeconds * 1e6, "cores": cores, "cryptoLimitPerSecond": Double(cores) / pathSeconds,
            "amortizedSteps": amortizedSteps.map { ["side": $0.side, "what": $0.what, "microseconds": 1e6 / $0.perSecond, "perRecipient": $0.perRecipient] },
            "amortizedCpuMicroseconds": amortizedSeconds * 1e6,
            "envelopeMicroseconds": envelopePathSeconds * 1e6,
            "certificateCheckMicroseconds": 1e6 / certificateCheckRate,
        ] as [String: Any],
    ]
    let data = try! JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])
    try! data.write(to: URL(fileURLWithPath: jsonPath))
}
