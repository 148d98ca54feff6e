#!/usr/bin/env python3
"""An independent attachment decryptor, written from AttachmentFormat.md alone.

    open_attachment.py SEAL.json [CIPHERTEXT]

SEAL.json holds the seal (fileKey, nonce, chunkSize, plaintextSize, plaintextSHA256,
root, hex for bytes) and, when CIPHERTEXT is not given, the ciphertext ("ciphertext", hex).
Prints the plaintext as hex and exits 0, or names the first check that failed and exits 1.
Needs Python 3 and the `cryptography` package (ChaCha20Poly1305, HKDF).
"""
import hashlib
import json
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

TAG = 16


def leaf_hash(chunk):
    return hashlib.sha256(b"\x00" + chunk).digest()


def merkle_root(leaves):
    """RFC 9162 section 2.1.1: MTH over leaf hashes, split at the largest power of two < n."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:])).digest()


def fail(message):
    sys.stderr.write(message + "\n")
    sys.exit(1)


def open_attachment(seal, ciphertext):
    key, nonce = bytes.fromhex(seal["fileKey"]), bytes.fromhex(seal["nonce"])
    chunk_size, size = seal["chunkSize"], seal["plaintextSize"]
    if len(key) != 32 or len(nonce) != 16:
        fail("seal: the file key must be 32 bytes and the nonce 16")
    if chunk_size < 1024 or chunk_size > 1048576 or chunk_size & (chunk_size - 1):
        fail("seal: the chunk size must be a power of two from 1024 to 1048576")
    count = max(1, -(-size // chunk_size))
    if len(ciphertext) != 16 + size + TAG * count:
        fail("ciphertext: %d bytes, expected %d" % (len(ciphertext), 16 + size + TAG * count))
    if ciphertext[:16] != nonce:
        fail("ciphertext: does not start with the seal's nonce")
    payload_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=nonce, info=b"payload").derive(key)
    aead = ChaCha20Poly1305(payload_key)
    plaintext, leaves, offset = b"", [], 16
    for i in range(count):
        length = (chunk_size if i < count - 1 else size - chunk_size * (count - 1)) + TAG
        chunk = ciphertext[offset:offset + length]
        offset += length
        leaves.append(leaf_hash(chunk))
        chunk_nonce = i.to_bytes(11, "big") + (b"\x01" if i == count - 1 else b"\x00")
        try:
            plaintext += aead.decrypt(chunk_nonce, chunk, None)
        except InvalidTag:
            fail("chunk %d: does not authenticate" % i)
    if merkle_root(leaves) != bytes.fromhex(seal["root"]):
        fail("commitment: the Merkle root differs from the seal's")
    if hashlib.sha256(plaintext).digest() != bytes.fromhex(seal["plaintextSHA256"]) or len(plaintext) != size:
        fail("plaintext: SHA-256 or size differs from the seal's")
    return plaintext


def main():
    if len(sys.argv) not in (2, 3):
        fail("usage: open_attachment.py SEAL.json [CIPHERTEXT]")
    seal = json.load(open(sys.argv[1], encoding="utf-8"))
    ciphertext = open(sys.argv[2], "rb").read() if len(sys.argv) == 3 else bytes.fromhex(seal["ciphertext"])
    print(open_attachment(seal, ciphertext).hex())


if __name__ == "__main__":
    main()
