# shellcheck shell=bash
# pki.sh: the help texts of every command.
# Sourced by Scripts/pki.sh; not run on its own.

# ---------------------------------------------------------------------------
# Help texts

help_main() {
    cat <<EOF
$PROG - the IIAS interstate PKI (root CA, center keys and certificates, CRL)

Usage:
  $PROG [-q] init-ca DIR [--days N] [--name NAME]
  $PROG [-q] issue   DIR CENTER_ID [--days N | [--not-before T] --not-after T]
                     [--passphrase-file FILE] [--tls-key ed25519|p256] [--force]
  $PROG [-q] rotate  DIR CENTER_ID [--keys signing,encryption,tls,witness] [validity options]
                     [--passphrase-file FILE] [--tls-key ed25519|p256]
  $PROG [-q] revoke  DIR CENTER_ID [--keys LIST] [--reason REASON]
                     [--invalid-since T] [--crl-days N]
  $PROG [-q] crl     DIR [--days N | --hours N | --next-update T [--last-update T]]
  $PROG      show    DIR [CENTER_ID]
  $PROG [-q] policy  DIR [--quorum K] [--log CENTER_ID] [--out FILE]

Commands:
  init-ca   create the Ed25519 root CA in DIR (DIR/ca.crt, DIR/crl.pem, DIR/ca/)
  issue     create a center's signing (Ed25519), encryption (X25519), TLS
            (Ed25519 or P-256) and witness (Ed25519) key pairs, certified by the
            CA, in DIR/centers/ID/
  rotate    new keys and certificates for a center; the previous ones move, dated,
            to DIR/centers/ID/history/ and are not revoked
  revoke    revoke a center's certificates (with a reason and, for a compromise,
            the invalidity date) and write a fresh DIR/crl.pem
  crl       re-sign DIR/crl.pem (do this before its nextUpdate passes)
  show      table of centers' current and past certificates: purpose, serial,
            validity, days left, revoked or not
  policy    a C2SP tlog-policy file of the centers' log and witness keys and a
            quorum, for 'iias audit check-proof --policy' (default DIR/policy.txt)

Options for every command:
  -q, --quiet   print nothing but errors
  -h, --help    this text; '$PROG COMMAND --help' explains one command

Example:
  $PROG init-ca /srv/iias-pki
  $PROG issue /srv/iias-pki AZ --passphrase-file /root/az.pass
  openssl verify -CAfile /srv/iias-pki/ca.crt -crl_check \\
      -CRLfile /srv/iias-pki/crl.pem /srv/iias-pki/centers/AZ/signing.crt

Layout of DIR, the openssl profiles used (Certs/ca.cnf, Certs/center.cnf) and how
an auditor checks a certificate with openssl alone: Certs/README.md.
Times T are UTC, YYYYMMDDHHMMSSZ (e.g. 20270101000000Z).
Exit status: 0 success, 1 failure or refusal, 2 wrong usage (or an unknown center
for rotate).
EOF
}

help_init_ca() {
    cat <<EOF
Usage: $PROG init-ca DIR [--days N] [--name NAME] [-q]

Creates the interstate root CA (Ed25519) in DIR (created if missing):
  DIR/ca.crt        root certificate, subject /O=IIAS/CN=NAME (public)
  DIR/crl.pem       empty CRL signed by the CA (public)
  DIR/ca/ca.key     CA private key (0600, DIR/ca is 0700) - keep it offline
  DIR/ca/index.txt, serial, crlnumber, newcerts/   the 'openssl ca' database
  DIR/centers/      where 'issue' puts the centers' bundles

Options:
  --days N      validity of the root certificate in days (default $DEFAULT_CA_DAYS)
  --name NAME   common name of the root (default "$DEFAULT_CA_NAME")

Refuses (exit 1) if DIR/ca.crt or DIR/ca/ca.key already exists: a root is never
replaced in place. Next step: $PROG issue DIR CENTER_ID
EOF
}

help_issue() {
    cat <<EOF
Usage: $PROG issue DIR CENTER_ID [options]

Issues a center's four key pairs and certificates, each certified by the CA in DIR:
  DIR/centers/ID/signing.key     signing.crt     Ed25519, keyUsage digitalSignature,nonRepudiation
  DIR/centers/ID/encryption.key  encryption.crt  X25519,  keyUsage keyAgreement
  DIR/centers/ID/tls.key         tls.crt         Ed25519 or P-256, keyUsage digitalSignature,
                                                 extendedKeyUsage serverAuth,clientAuth
  DIR/centers/ID/witness.key     witness.crt     Ed25519, keyUsage digitalSignature only (it
                                                 cosigns the peers' checkpoints)
  DIR/centers/ID/ca.crt          copy of the root certificate
Subject /O=IIAS/OU=<signing|encryption|tls|witness>/CN=ID, subjectAltName URI:iias:center:ID,
random serial. Private keys are PKCS#8 PEM (0600), the directory is 0700.

CENTER_ID: two capital letters, optionally '-' and 1-16 capitals/digits
           (AZ, GE, UA-SBU).

Options:
  --days N                  validity in days from now (default $DEFAULT_CERT_DAYS)
  --not-after YYYYMMDDHHMMSSZ
                            explicit end of validity (UTC; from now, not with
                            --days), e.g. a bundle that expires soon
  --not-before YYYYMMDDHHMMSSZ
                            explicit start (with --not-after), e.g. an already
                            expired bundle for tests:
                            --not-before 20200101000000Z --not-after 20210101000000Z
  --passphrase-file FILE    encrypt the private keys (PKCS#8, AES-256-CBC, PBKDF2)
                            with the first line of FILE; the passphrase never
                            appears on a command line
  --tls-key ed25519|p256    algorithm of the TLS key (default ed25519)
  --force                   replace an existing bundle of this center; the old
                            certificates still valid in the CA database are
                            revoked (reason superseded) and the CRL is re-signed;
                            its history/ folder is kept. For a planned key change
                            use '$PROG rotate' instead (nothing is revoked)
  -q, --quiet               print nothing but errors

Refuses (exit 1) if DIR/centers/ID exists and --force is not given.
Next step: copy DIR/centers/ID/ to the center's node over a secure channel.
EOF
}

help_rotate() {
    cat <<EOF
Usage: $PROG rotate DIR CENTER_ID [--keys signing,encryption,tls,witness] [options]

A planned key change. Makes new key pairs and certificates for the purposes named
in --keys (default all four) and moves the previous key and certificate of each,
dated, to DIR/centers/ID/history/YYYY-MM-DDTHHMMSSZ/. The previous certificates are
NOT revoked: they stay valid until they expire, so envelopes signed with them and
receipts or checkpoints of the past keep verifying, and peers that have not yet
learned the new certificates keep working during the overlap. A center issued
before witness keys existed has none: rotating "witness" gives it its first.

Options:
  --keys LIST               comma-separated: signing, encryption, tls, witness
  --days N | [--not-before T] --not-after T
                            validity of the new certificates (as for issue)
  --passphrase-file FILE    encrypt the new private keys (required when the
                            current ones are encrypted)
  --tls-key ed25519|p256    TLS key algorithm (default: that of the current one)

Refuses with exit 2 a center the CA never issued (no DIR/centers/ID).
Next step: copy DIR/centers/ID/ to the center's node and SIGHUP it; add the new
certificates to the peers' and auditors' certificate folders, keeping the old ones.
EOF
}

help_revoke() {
    cat <<EOF
Usage: $PROG revoke DIR CENTER_ID [--keys LIST | --serial HEX ...] [--reason REASON]
                    [--invalid-since T] [--crl-days N] [-q]

Marks the certificates of CENTER_ID that are still valid in the CA database
(current and rotated ones; with --keys only those purposes, with --serial only
those certificates) as revoked and writes a fresh DIR/crl.pem. Distribute the
new crl.pem to all nodes.

Options:
  --keys LIST          comma-separated: signing, encryption, tls, witness (default all)
  --serial HEX         only this certificate (repeatable; the serials $PROG show
                       prints): a compromised current key, while the rotated keys
                       before it, never compromised, keep their history valid
  --reason REASON      key-compromise, superseded, cessation-of-operation or any
                       of: ${REASONS[*]}
                       (default: no reason code in the CRL)
  --invalid-since T    with key-compromise: when the key is known or suspected
                       to have been compromised (UTC YYYYMMDDHHMMSSZ, not in the
                       future); written as the CRL entry's invalidityDate.
                       Default for key-compromise: the time of revocation.
  --crl-days N         nextUpdate of the new CRL, days from now (default $DEFAULT_CRL_DAYS)

Check with: openssl crl -in DIR/crl.pem -noout -text
(shows "CRL Reason Code" and "Invalidity Date" for each entry).
Revoking certificates that are all revoked already only re-signs the CRL.
To give the center new keys afterwards: $PROG issue DIR CENTER_ID --force
EOF
}

help_crl() {
    cat <<EOF
Usage: $PROG crl DIR [--days N | --hours N | --next-update T [--last-update T]] [-q]

Re-signs DIR/crl.pem from the CA database. A CRL carries a nextUpdate time; after
it, verifiers treat the CRL as expired, so run this (e.g. from cron) well before.

Options:
  --days N          nextUpdate, days from now (default $DEFAULT_CRL_DAYS)
  --hours N         nextUpdate, hours from now
  --next-update T   nextUpdate at T (UTC YYYYMMDDHHMMSSZ); with --last-update T
                    a CRL dated in the past (e.g. an expired one, for tests)
EOF
}

help_show() {
    cat <<EOF
Usage: $PROG show DIR [CENTER_ID]

Prints the root, the CRL's nextUpdate (and hours left) and a table of the
centers' certificates, current ones (DIR/centers/*/) then rotated ones
(DIR/centers/*/history/*/): center, purpose, set (current or history/DATE), key
type, serial, notBefore and notAfter (UTC), days left and status (valid, revoked
with date and reason, expired, not-yet-valid), status taken from the CA database.
EOF
}

