#!/usr/bin/env python3
"""Writes the attachment test vectors from AttachmentFormat.md, with open_attachment.py's
Merkle code and the `cryptography` package (not with the Swift encryptor, which the
tests hold to these bytes).

    make_vectors.py DIR
"""
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from open_attachment import leaf_hash, merkle_root

FILE_KEY, NONCE, CHUNK_SIZE = bytes(range(32)), bytes(range(0xA0, 0xB0)), 1024
VECTORS = [
    ("empty", 0, "an empty file: one empty last chunk"),
    ("one-byte", 1, "one byte: one short last chunk"),
    ("one-chunk", 1024, "exactly one chunk: a full last chunk, no empty chunk after it"),
    ("one-chunk-and-one-byte", 1025, "one full chunk, then a last chunk of one byte"),
    ("three-chunks", 2560, "two full chunks and a half chunk: a Merkle tree of three leaves"),
]


def encrypt(plaintext):
    count = max(1, -(-len(plaintext) // CHUNK_SIZE))
    payload_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=NONCE, info=b"payload").derive(FILE_KEY)
    aead = ChaCha20Poly1305(payload_key)
    chunks = [aead.encrypt(i.to_bytes(11, "big") + (b"\x01" if i == count - 1 else b"\x00"),
                           plaintext[i * CHUNK_SIZE:(i + 1) * CHUNK_SIZE], None) for i in range(count)]
    return chunks


def main():
    directory = sys.argv[1]
    for name, size, description in VECTORS:
        plaintext = bytes((31 * i + 7) % 256 for i in range(size))
        chunks = encrypt(plaintext)
        leaves = [leaf_hash(c) for c in chunks]
        ciphertext = NONCE + b"".join(chunks)
        vector = {
            "description": description, "fileKey": FILE_KEY.hex(), "nonce": NONCE.hex(), "chunkSize": CHUNK_SIZE,
            "plaintextSize": size, "plaintextSHA256": hashlib.sha256(plaintext).hexdigest(),
            "chunkCount": len(chunks), "ciphertextSize": len(ciphertext), "root": merkle_root(leaves).hex(),
            "chunkHashes": [leaf.hex() for leaf in leaves], "plaintext": plaintext.hex(), "ciphertext": ciphertext.hex(),
        }
        with open(os.path.join(directory, name + ".json"), "w", encoding="utf-8") as out:
            json.dump(vector, out, indent=2)
            out.write("\n")


if __name__ == "__main__":
    main()
