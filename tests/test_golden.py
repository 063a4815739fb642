"""Tests of the golden model (memcrypt.model.golden) against published vectors and
`cryptography`."""

import ast
import dataclasses
import pathlib
import random

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from memcrypt.model import golden, vectors

SEED = 0x1619_2007
RANDOM_XTS_CASES = 300
RANDOM_BLOCK_CASES = 100
XTS_POLYNOMIAL = (1 << 128) | 0x87


def _xts_cryptography(key1: bytes, key2: bytes, tweak: int, data: bytes, *,
                      decrypt: bool = False) -> bytes:
    cipher = Cipher(algorithms.AES(key1 + key2), modes.XTS(tweak.to_bytes(16, "little")))
    context = cipher.decryptor() if decrypt else cipher.encryptor()
    return context.update(data) + context.finalize()


def _distinct_keys(rng: random.Random, key_bytes: int) -> tuple[bytes, bytes]:
    # `cryptography` refuses key1 == key2.
    while True:
        key1, key2 = rng.randbytes(key_bytes), rng.randbytes(key_bytes)
        if key1 != key2:
            return key1, key2


def _gf128_multiply(a: int, b: int) -> int:
    """Bit-by-bit carry-less product modulo x^128 + x^7 + x^2 + x + 1 (bit i = x^i)."""
    product = 0
    for bit in range(b.bit_length()):
        if b >> bit & 1:
            product ^= a << bit
    for bit in range(product.bit_length() - 1, 127, -1):
        if product >> bit & 1:
            product ^= XTS_POLYNOMIAL << (bit - 128)
    return product


def _errors(xts_vectors) -> list[str]:
    return [error for vector in xts_vectors for error in vectors.xts_vector_errors(vector)]


def _flip_bit(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


# --- The model stays independent of the RTL ---------------------------------------------

@pytest.mark.parametrize("module", [golden, vectors], ids=lambda module: module.__name__)
def test_model_does_not_import_the_rtl(module):
    tree = ast.parse(pathlib.Path(module.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
            if node.level:
                imported.update(f".{alias.name}" for alias in node.names)
    assert not any(name.split(".")[0] == "amaranth" for name in imported)
    assert not imported & {".aes", ".xts", ".cli", ".toolchain"}


# --- AES tables and key schedule --------------------------------------------------------

def test_sbox_tables():
    assert len(golden.SBOX) == len(golden.INV_SBOX) == 256
    assert sorted(golden.SBOX) == list(range(256))
    assert all(golden.INV_SBOX[golden.SBOX[value]] == value for value in range(256))
    assert all(golden.SBOX[golden.INV_SBOX[value]] == value for value in range(256))
    # FIPS-197 §5.1.1 worked example and Figure 7 corners.
    assert golden.SBOX[0x53] == 0xED
    assert (golden.SBOX[0x00], golden.SBOX[0xFF]) == (0x63, 0x16)
    assert (golden.INV_SBOX[0x00], golden.INV_SBOX[0xFF]) == (0x52, 0x7D)
    assert all(golden.SBOX[value] not in (value, value ^ 0xFF) for value in range(256))


def test_rcon():
    assert golden.RCON == (0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1B, 0x36)


def test_rounds():
    assert golden.rounds(bytes(16)) == 10
    assert golden.rounds(bytes(32)) == 14


@pytest.mark.parametrize("vector", vectors.fips197_round_key_vectors(),
                         ids=lambda vector: vector.name)
def test_fips197_appendix_a_round_keys(vector):
    assert golden.expand_key(vector.key)[vector.index] == vector.round_key


def test_fips197_appendix_a_decryption_keys():
    key128 = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    assert golden.decryption_key(key128) == bytes.fromhex("d014f9a8c9ee2589e13f0cc8b6630ca6")
    key256 = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
    # w[52..59], the last eight words of the A.3 expansion.
    assert golden.decryption_key(key256) == bytes.fromhex(
        "cafaaae3e4d59b349adf6acebd10190dfe4890d1e6188d0b046df344706c631e")
    # w[40..47] (round keys 10 and 11) are not the decryption start key.
    round_keys = golden.expand_key(key256)
    assert round_keys[10] + round_keys[11] == bytes.fromhex(
        "de1369676ccc5a71fa2563959674ee155886ca5d2e2f31d77e0af1fa27cf73c3")


@pytest.mark.parametrize("key_bytes", golden.KEY_BYTES)
def test_key_schedule_consistency(key_bytes):
    rng = random.Random(SEED + key_bytes)
    for _ in range(50):
        key = rng.randbytes(key_bytes)
        round_keys = golden.expand_key(key)
        assert len(round_keys) == golden.rounds(key) + 1
        assert all(len(round_key) == golden.BLOCK_BYTES for round_key in round_keys)
        assert b"".join(round_keys)[:key_bytes] == key
        start = golden.decryption_key(key)
        assert len(start) == key_bytes
        assert start == b"".join(round_keys[-(key_bytes // golden.BLOCK_BYTES):])
        # Running the schedule backwards from the start key (the hardware's decryption)
        # recovers every round key, including the cipher key.
        assert golden._round_keys_from_decryption_key(start) == round_keys


# --- AES block cipher -------------------------------------------------------------------

@pytest.mark.parametrize("reference", [False, True], ids=["pycryptodome", "reference"])
@pytest.mark.parametrize("vector", vectors.fips197_block_vectors(),
                         ids=lambda vector: vector.name)
def test_fips197_block_vectors(vector, reference):
    assert vectors.block_vector_errors(vector, reference=reference) == []


def test_fips197_appendix_c_values():
    plaintext = bytes.fromhex("00112233445566778899aabbccddeeff")
    expected = {16: "69c4e0d86a7b0430d8cdb78070b4c55a", 32: "8ea2b7ca516745bfeafc49904b496089"}
    for key_bytes, ciphertext_hex in expected.items():
        key, ciphertext = bytes(range(key_bytes)), bytes.fromhex(ciphertext_hex)
        for encrypt, decrypt in ((golden.aes_encrypt_block, golden.aes_decrypt_block),
                                 (golden.aes_encrypt_block_reference,
                                  golden.aes_decrypt_block_reference)):
            assert encrypt(key, plaintext) == ciphertext
            assert decrypt(key, ciphertext) == plaintext


@pytest.mark.parametrize("key_bytes", golden.KEY_BYTES)
def test_reference_cipher_matches_pycryptodome(key_bytes):
    rng = random.Random(SEED ^ key_bytes)
    for _ in range(RANDOM_BLOCK_CASES):
        key, block = rng.randbytes(key_bytes), rng.randbytes(golden.BLOCK_BYTES)
        ciphertext = golden.aes_encrypt_block(key, block)
        assert golden.aes_encrypt_block_reference(key, block) == ciphertext
        assert golden.aes_decrypt_block_reference(key, ciphertext) == block
        assert golden.aes_decrypt_block_reference(key, block) == golden.aes_decrypt_block(
            key, block)


# --- GF(2^128) --------------------------------------------------------------------------

def test_mul_alpha_matches_bitwise_gf128_multiplication():
    rng = random.Random(SEED)
    edge_cases = [0, 1, 0x87, 1 << 126, 1 << 127, (1 << 127) | 1, (1 << 128) - 1]
    for value in edge_cases + [rng.getrandbits(128) for _ in range(500)]:
        assert golden.mul_alpha(value) == _gf128_multiply(value, 2)


def test_mul_alpha_powers():
    value = 1
    for _ in range(128):
        value = golden.mul_alpha(value)
    assert value == 0x87        # x^128 = x^7 + x^2 + x + 1
    assert golden.mul_alpha(1 << 127) == 0x87
    assert golden.mul_alpha(0x80) == 0x100    # byte 0 bit 7 carries into byte 1


def test_xts_tweaks_chain():
    key2 = bytes(range(16))
    tweaks = golden.xts_tweaks(key2, 0x1234, 8)
    assert tweaks[0] == int.from_bytes(
        golden.aes_encrypt_block(key2, (0x1234).to_bytes(16, "little")), "little")
    assert all(golden.mul_alpha(tweaks[j]) == tweaks[j + 1] for j in range(7))


# --- Published XTS vectors --------------------------------------------------------------

@pytest.mark.parametrize("file_name", vectors.CAVP_XTS_FILES)
def test_cavp_xts_vectors(file_name):
    cavp = vectors.cavp_xts_vectors(file_name)
    print(f"{file_name}: {len(cavp)} whole-block vectors")
    assert len(cavp) > 0
    assert {vector.name.split()[0] for vector in cavp} == {"ENCRYPT", "DECRYPT"}
    assert {vector.key_bits for vector in cavp} == {128 if "128" in file_name else 256}
    assert all(len(vector.plaintext) % golden.BLOCK_BYTES == 0 for vector in cavp)
    assert _errors(cavp) == []


def test_cavp_tweak_encodings():
    first_plain = vectors.cavp_xts_vectors("XTSGenAES128.rsp")[0]
    assert first_plain.name == "ENCRYPT COUNT=1"
    assert first_plain.tweak == int.from_bytes(
        bytes.fromhex("4faef7117cda59c66e4b92013e768ad5"), "little")
    first_seqno = vectors.cavp_xts_vectors("XTSGenAES128_seqno.rsp")[0]
    assert first_seqno.tweak == 141
    assert first_seqno.key1 == bytes.fromhex("a3e40d5bd4b6bbedb2d18c700ad2db22")
    assert first_seqno.key2 == bytes.fromhex("10c81190646d673cbca53f133eab373c")


def test_wycheproof_xts_vectors():
    wycheproof = vectors.wycheproof_xts_vectors()
    counts = {count.source: count for count in vectors.vector_counts()}
    print(counts["wycheproof"])
    assert len(wycheproof) > 0
    assert {vector.key_bits for vector in wycheproof} == {128, 256}
    assert counts["wycheproof"].kept == len(wycheproof)
    assert counts["wycheproof"].total == counts["wycheproof"].kept + sum(
        skipped for _, skipped in counts["wycheproof"].skipped)
    assert _errors(wycheproof) == []


def test_ieee1619_vectors():
    ieee = vectors.ieee1619_vectors()
    numbers = [int(vector.name.split()[-1]) for vector in ieee]
    assert numbers == [*range(1, 15), 19]
    vector1 = ieee[0]
    assert vector1.key1 == vector1.key2 == bytes(16)
    assert vector1.tweak == 0
    assert {vector.key_bits for vector in ieee} == {128, 256}
    assert _errors(ieee) == []


def test_ieee1619_vectors_match_cryptography():
    # An independent implementation agrees on every vector it accepts (not vector 1).
    for vector in vectors.ieee1619_vectors()[1:]:
        assert _xts_cryptography(vector.key1, vector.key2, vector.tweak,
                                 vector.plaintext) == vector.ciphertext


def test_line_vectors():
    exact = vectors.xts_line_vectors()
    with_prefixes = vectors.xts_line_vectors(include_prefixes=True)
    print(f"line vectors: {len(exact)} exactly 64 bytes, {len(with_prefixes)} with prefixes")
    assert len(exact) > 0
    assert len(with_prefixes) > len(exact)
    assert all(len(vector.plaintext) == len(vector.ciphertext) == golden.LINE_BYTES
               for vector in with_prefixes)
    assert {vector.key_bits for vector in exact} == {128, 256}
    assert _errors(with_prefixes) == []


def test_vector_counts_are_reported():
    counts = vectors.vector_counts()
    for count in counts:
        print(count)
    by_source = {count.source: count for count in counts}
    assert set(by_source) >= {f"cavp:{name}" for name in vectors.CAVP_XTS_FILES} | {
        "wycheproof", "ieee1619", "fips197 blocks", "fips197 round keys"}
    assert all(count.kept > 0 for count in counts)
    assert sum(by_source[f"cavp:{name}"].kept for name in vectors.CAVP_XTS_FILES) == len(
        vectors.cavp_xts_vectors())
    assert by_source["ieee1619"].kept == len(vectors.ieee1619_vectors())


# --- The checks can fail ----------------------------------------------------------------

def test_flipped_ciphertext_bit_is_caught():
    for vector in (vectors.ieee1619_vectors()[0], vectors.cavp_xts_vectors()[0],
                   vectors.xts_line_vectors()[0]):
        assert vectors.xts_vector_errors(vector) == []
        last_bit = 8 * len(vector.ciphertext) - 1
        for bit in (0, last_bit):
            corrupted = dataclasses.replace(vector,
                                            ciphertext=_flip_bit(vector.ciphertext, bit))
            errors = vectors.xts_vector_errors(corrupted)
            assert len(errors) == 2
            assert "encrypt gave" in errors[0] and "decrypt gave" in errors[1]


def test_wrong_tweak_or_swapped_keys_are_caught():
    vector = vectors.ieee1619_vectors()[1]
    assert vectors.xts_vector_errors(dataclasses.replace(vector, tweak=vector.tweak + 1))
    assert vectors.xts_vector_errors(dataclasses.replace(vector, key1=vector.key2,
                                                         key2=vector.key1))


def test_flipped_block_bit_is_caught():
    vector = vectors.fips197_block_vectors()[1]
    corrupted = dataclasses.replace(vector, ciphertext=_flip_bit(vector.ciphertext, 77))
    for reference in (False, True):
        assert len(vectors.block_vector_errors(corrupted, reference=reference)) == 2


# --- Random cross-check against `cryptography` ------------------------------------------

def test_random_xts_against_cryptography():
    rng = random.Random(SEED)
    for _ in range(RANDOM_XTS_CASES):
        key1, key2 = _distinct_keys(rng, rng.choice(golden.KEY_BYTES))
        tweak = rng.getrandbits(128)
        data = rng.randbytes(golden.BLOCK_BYTES * rng.randint(1, 32))
        ciphertext = golden.xts_encrypt(key1, key2, tweak, data)
        assert ciphertext == _xts_cryptography(key1, key2, tweak, data)
        assert golden.xts_decrypt(key1, key2, tweak, ciphertext) == data
        assert golden.xts_decrypt(key1, key2, tweak, data) == _xts_cryptography(
            key1, key2, tweak, data, decrypt=True)


def test_random_lines_against_cryptography():
    rng = random.Random(SEED + 1)
    for _ in range(100):
        key1, key2 = _distinct_keys(rng, rng.choice(golden.KEY_BYTES))
        address = rng.getrandbits(48) & ~(golden.LINE_BYTES - 1)
        line = rng.randbytes(golden.LINE_BYTES)
        ciphertext = golden.encrypt_line(key1, key2, address, line)
        assert ciphertext == _xts_cryptography(key1, key2, address, line)
        assert ciphertext == golden.xts_encrypt(key1, key2, address, line)
        assert golden.decrypt_line(key1, key2, address, ciphertext) == line


def test_line_tweak_is_the_address():
    assert golden.line_tweak(0) == 0
    assert golden.line_tweak(0x1234_5640) == 0x1234_5640
    assert golden.line_tweak((1 << 128) - 64) == (1 << 128) - 64


# --- Bus encoding -----------------------------------------------------------------------

def test_bus_encoding():
    assert golden.to_bus(b"\x01\x00") == 1
    assert golden.to_bus(b"\x00\x01") == 0x100
    assert golden.from_bus(0x0100, 2) == b"\x00\x01"
    rng = random.Random(SEED)
    for nbytes in (16, 32, 64):
        data = rng.randbytes(nbytes)
        assert golden.from_bus(golden.to_bus(data), nbytes) == data
    assert golden.to_bus(golden.line_tweak(64).to_bytes(16, "little")) == 64


# --- Argument validation ----------------------------------------------------------------

KEY16, KEY32, LINE = bytes(16), bytes(range(32)), bytes(64)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: golden.rounds(bytes(24)), ValueError, r"24 bytes \(AES-192\).*not support"),
    (lambda: golden.rounds(bytes(15)), ValueError,
     r"key must be 16 bytes \(AES-128\) or 32 bytes \(AES-256\), got 15 bytes"),
    (lambda: golden.rounds(b""), ValueError, r"got 0 bytes"),
    (lambda: golden.rounds("00" * 16), TypeError, r"key must be bytes, not str"),
    (lambda: golden.expand_key(bytes(24)), ValueError, r"AES-192"),
    (lambda: golden.decryption_key(bytes(20)), ValueError, r"got 20 bytes"),
    (lambda: golden.aes_encrypt_block(KEY16, bytes(15)), ValueError,
     r"block must be 16 bytes, got 15 bytes"),
    (lambda: golden.aes_decrypt_block_reference(bytes(24), bytes(16)), ValueError, r"AES-192"),
    (lambda: golden.xts_encrypt(KEY16, KEY32, 0, bytes(16)), ValueError,
     r"key1 and key2 must have the same length, got 16 and 32 bytes"),
    (lambda: golden.xts_encrypt(bytes(24), bytes(24), 0, bytes(16)), ValueError,
     r"key1 is 24 bytes \(AES-192\)"),
    (lambda: golden.xts_decrypt(KEY16, bytes(8), 0, bytes(16)), ValueError,
     r"key2 must be 16 bytes .* got 8 bytes"),
    (lambda: golden.xts_encrypt(KEY16, KEY16, 0, bytes(20)), ValueError,
     r"data length must be a non-zero multiple of 16 bytes \(no ciphertext stealing\), "
     r"got 20 bytes"),
    (lambda: golden.xts_decrypt(KEY16, KEY16, 0, b""), ValueError, r"got 0 bytes"),
    (lambda: golden.xts_encrypt(KEY16, KEY16, -1, bytes(16)), ValueError,
     r"tweak must be in \[0, 2\*\*128\), got -0x1"),
    (lambda: golden.xts_encrypt(KEY16, KEY16, 1 << 128, bytes(16)), ValueError,
     r"tweak must be in \[0, 2\*\*128\), got 0x1" + "0" * 32),
    (lambda: golden.xts_encrypt(KEY16, KEY16, b"\x00" * 16, bytes(16)), TypeError,
     r"tweak must be an int, not bytes"),
    (lambda: golden.mul_alpha(1 << 128), ValueError, r"tweak must be in"),
    (lambda: golden.line_tweak(0x1008), ValueError,
     r"stripped address 0x1008 is not 64-byte aligned"),
    (lambda: golden.line_tweak(-64), ValueError, r"stripped address must be non-negative"),
    (lambda: golden.line_tweak(1 << 128), ValueError, r"stripped address must be below 2\*\*128"),
    (lambda: golden.encrypt_line(KEY16, KEY16, 0x20, LINE), ValueError,
     r"stripped address 0x20 is not 64-byte aligned"),
    (lambda: golden.encrypt_line(KEY16, KEY16, 0, bytes(48)), ValueError,
     r"plaintext must be one 64-byte line, got 48 bytes"),
    (lambda: golden.decrypt_line(KEY16, KEY16, 0, bytes(80)), ValueError,
     r"ciphertext must be one 64-byte line, got 80 bytes"),
    (lambda: golden.from_bus(1 << 128, 16), ValueError, r"does not fit in 16 bytes"),
    (lambda: golden.from_bus(-1, 16), ValueError, r"does not fit in 16 bytes"),
    (lambda: vectors.cavp_xts_vectors("XTSGenAES192.rsp"), ValueError,
     r"unknown CAVP XTS file"),
], ids=lambda value: None if callable(value) or isinstance(value, type) else value[:40])
def test_bad_arguments_are_rejected(call, error, message):
    with pytest.raises(error, match=message):
        call()
