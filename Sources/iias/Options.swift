import ArgumentParser
import Foundation
import IIASCrypto
import IIASModel

/// Where trust comes from: the root CA, its CRL, and a folder of center certificates.
struct TrustOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The interstate root CA certificate (PEM).", valueName: "ca.crt"))
    var ca: String?

    @Option(name: .long, help: ArgumentHelp("The CA's revocation list (PEM); strongly recommended.", valueName: "crl.pem"))
    var crl: String?

    @Option(name: .long, help: ArgumentHelp("A folder of center certificates (*.crt, searched recursively), e.g. PKI/centers.", valueName: "dir"))
    var certs: String?

    /// The CA, defaulting to `ca.crt` in `fallbackDirectory` (a center's key folder).
    func trustAnchor(fallbackDirectory: String? = nil) throws -> TrustAnchor {
        let caPath = ca ?? fallbackDirectory.map { ($0 as NSString).appendingPathComponent("ca.crt") }
        guard let caPath else {
            throw CLIFailure.usage("no root CA given", hint: "pass --ca PKI/ca.crt")
        }
        do {
            return try TrustAnchor(caFile: caPath, crlFile: crl)
        } catch {
            throw CLIFailure.usage(error.description, hint: "check --ca and --crl point at the files Scripts/pki.sh wrote")
        }
    }

    /// The certificate folder, defaulting to the parent of a center's key folder
    /// (`PKI/centers/AZ` → `PKI/centers`).
    func certificateDirectory(fallbackDirectory: String? = nil) throws -> CertificateDirectory {
        let path = certs ?? fallbackDirectory.map { ($0 as NSString).deletingLastPathComponent }
        guard let path else {
            throw CLIFailure.usage("no certificate folder given", hint: "pass --certs PKI/centers")
        }
        do {
            return try CertificateDirectory(path)
        } catch {
            throw CLIFailure.usage(error.description, hint: "pass --certs with the folder holding the centers' .crt files")
        }
    }
}

/// A center's own key folder (as `Scripts/pki.sh issue` writes it).
struct KeyOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The center's key folder, e.g. PKI/centers/AZ (signing.key, encryption.key, certificates).", valueName: "dir"))
    var keyDir: String?

    @Option(name: .long, help: ArgumentHelp("A file holding the passphrase of encrypted key files.", valueName: "file"))
    var passphraseFile: String?

    func load() throws -> CenterKeys {
        guard let keyDir else {
            throw CLIFailure.usage("no key folder given", hint: "pass --key-dir PKI/centers/<ID>")
        }
        var passphrase: [UInt8]? = nil
        if let passphraseFile {
            // The first line of an owner-only file, as the node and openssl read it.
            do { passphrase = try SecretFile.readPassphrase(passphraseFile) } catch {
                throw CLIFailure.usage("\(error)", hint: "the file's first line is the passphrase; chmod 600 it")
            }
        }
        defer { if passphrase != nil { wipeSecret(&passphrase!) } }
        do {
            return try CenterKeys(directory: keyDir, passphrase: passphrase)
        } catch {
            throw CLIFailure.usage(error.description)
        }
    }
}

/// Reads a file the user named ('-' for standard input), with a size bound checked
/// before the bytes are held, and an error that says what to do.
func readUserFile(_ path: String, limit: Int, what: String) throws -> [UInt8] {
    let handle: FileHandle
    if path == "-" {
        handle = FileHandle.standardInput
    } else {
        guard let file = FileHandle(forReadingAtPath: path) else {
            throw CLIFailure.usage("cannot read \(what) \(path): no such file or not readable")
        }
        handle = file
    }
    defer { if path != "-" { try? handle.close() } }
    // Read at most one byte past the limit: enough to know it was exceeded, whatever
    // the source (a pipe has no size to ask for).
    var bytes: [UInt8] = []
    while bytes.count <= limit {
        guard let chunk = try? handle.read(upToCount: min(1 << 16, limit + 1 - bytes.count)), !chunk.isEmpty else { break }
        bytes.append(contentsOf: chunk)
    }
    guard bytes.count <= limit else {
        throw CLIFailure.invalid("\(what) \(path == "-" ? "on standard input" : path) is larger than the limit of \(limit) bytes")
    }
    return bytes
}

/// Writes a file atomically with the given permissions (0600 for anything sensitive).
func writeUserFile(_ path: String, _ bytes: [UInt8], mode: Int = 0o644) throws {
    let url = URL(fileURLWithPath: path)
    do {
        try Data(bytes).write(to: url, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    } catch {
        throw CLIFailure.usage("cannot write \(path): \(error.localizedDescription)")
    }
}

func parseEnvelope(_ bytes: [UInt8], path: String) throws -> Envelope {
    do {
        return try Envelope(parsing: bytes)
    } catch {
        throw CLIFailure.invalid("\(path): \(error.description)")
    }
}

extension TrustOptions {
    /// The verifier of envelopes these options trust; the CA, CRL and certificates default
    /// to those in `fallbackDirectory` (a key folder) when not given.
    func envelopeVerifier(fallbackDirectory: String?) throws -> EnvelopeVerifier {
        EnvelopeVerifier(trust: try trustAnchor(fallbackDirectory: fallbackDirectory),
                         certificates: try certificateDirectory(fallbackDirectory: fallbackDirectory))
    }
}
