import ArgumentParser

/// `iias node …`: run a center's node, or check its configuration.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run this center's node, or check its configuration.",
        subcommands: [Run.self, CheckConfig.self]
    )

    static let example = """
    Example configuration (JSON; relative paths are relative to the file;
    Scripts/node.example.json is a complete one):
      {
        "center": "AZ",
        "keys": "pki/centers/AZ",          (signing, encryption, tls .key/.crt)
        "keyPassphraseFile": "az.pass",    (for encrypted keys: first line, 0600;
                                            or "keyPassphraseCredential": NAME,
                                            read from $CREDENTIALS_DIRECTORY/NAME)
        "ca": "pki/ca.crt",
        "crl": "pki/crl.pem",              (required; "none" runs without
                                            revocation checks, deliberately)
        "certificates": "pki/centers",     (the peers' certificates)
        "listen": "0.0.0.0:7443",
        "peers": ["GE=ge.example:7443", "UA=ua.example:7443"],
        "data": "/var/lib/iias",
        "api": { "socket": "/run/iias/iias.sock", "group": "iias",
                 "users": ["alice=operator", "audit=auditor"] },
        "metrics": { "listen": "127.0.0.1:9464" },
        "limits": { "maxFrameBytes": 16777216, "queueDepth": 100000,
                    "window": 64, "retryInitialSeconds": 1,
                    "retryMaxSeconds": 300, "clockSkewSeconds": 300 },
        "treeHeadIntervalSeconds": 60,
        "certificateRescanSeconds": 300,
        "witness": { "quorum": 2,          (peers' cosignatures a checkpoint
                     "enabled": true },    needs before receipt proofs end in
                                            it; default a majority of the peers;
                                            false: no witnessing either way)
        "requests": { "deadlineHours": { "flash": 8, "urgent": 72,
                                         "routine": 168 },
                      "checkSeconds": 60 },  (a request sent without a deadline
                                            gets one by priority; checked for
                                            `iias requests`, watch and metrics)
        "envelopeVersion": 3               (2 or 1 while a peer still runs a build
                                            that reads only versions up to it)
      }
    A key the node does not know is an error that names the nearest known one.
    Any key can be set from the environment: IIAS_ and the key in capitals,
    dots and camel case as underscores: IIAS_LISTEN, IIAS_API_SOCKET,
    IIAS_LIMITS_MAX_FRAME_BYTES, IIAS_PEERS="GE=ge.example:7443,UA=…".
    """
}
