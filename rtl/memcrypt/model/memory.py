"""Python models for the key-tagged cache's tests: an abstract cipher, the encrypted memory
behind the cache, and the reference semantics the cache must refine.

* ``cipher(keyid, line, data)``: an invertible per-(KeyID, line) transform (XOR with a pad
  derived from both), standing in for AES-XTS: E_k and D_k are the same function.
* :class:`EncryptedMemory`: what sits behind the cache's memory side. A write-back of
  (line, k, plaintext) stores E_k(plaintext); a fill of (line, k) returns D_k(stored). It
  serves requests in the order it accepts them.
* :class:`Reference`: an uncached memory of ciphertext. A write of bytes under KeyID k
  decrypts the line under k, merges the bytes and encrypts it under k again; a read under k
  returns the word of D_k(line). The cache is correct if every read returns what the
  reference returns, and if after a flush the encrypted memory equals the reference.
"""

import hashlib

from ..geometry import LINE_BYTES, LINE_OFFSET_BITS, WORD_BYTES, WORD_OFFSET_BITS

__all__ = ["cipher", "EncryptedMemory", "Reference"]


def cipher(keyid: int, line: int, data: bytes) -> bytes:
    pad = hashlib.sha512(f"{keyid}:{line}".encode()).digest()
    return bytes(a ^ b for a, b in zip(data, pad, strict=True))


class EncryptedMemory:
    def __init__(self):
        self.lines = {}          # line -> ciphertext
        self.fills = 0
        self.write_backs = 0

    def ciphertext(self, line):
        return self.lines.get(line, bytes(LINE_BYTES))

    def fill(self, line, keyid):
        self.fills += 1
        return cipher(keyid, line, self.ciphertext(line))

    def write_back(self, line, keyid, plaintext):
        self.write_backs += 1
        self.lines[line] = cipher(keyid, line, plaintext)


def _line_and_word_offset(address):
    """The line of byte ``address`` and the offset in it of the word that holds the byte."""
    offset = address & (LINE_BYTES - 1)
    return address >> LINE_OFFSET_BITS, offset >> WORD_OFFSET_BITS << WORD_OFFSET_BITS


class Reference:
    def __init__(self):
        self.memory = EncryptedMemory()

    def read(self, address, keyid):
        line, offset = _line_and_word_offset(address)
        return self.memory.fill(line, keyid)[offset:offset + WORD_BYTES]

    def write(self, address, keyid, strobe, data: bytes):
        line, offset = _line_and_word_offset(address)
        plain = bytearray(self.memory.fill(line, keyid))
        for k in range(WORD_BYTES):
            if strobe >> k & 1:
                plain[offset + k] = data[k]
        self.memory.write_back(line, keyid, bytes(plain))
