"""Tests of the controller's golden system model (memcrypt.model.controller): checked
against AES-XTS built here from pycryptodome's AES block cipher and against
`cryptography`'s XTS, with aliasing, NO_ENCRYPT, the platform key and refused accesses."""

import ast
import pathlib
import random
from dataclasses import replace

import pytest
from Crypto.Cipher import AES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from memcrypt.config import preset
from memcrypt.model import controller
from memcrypt.model.controller import AccessFault, AccessRefused, ControllerModel, Mode

LINE = 64
SMALL = preset("small")
SME = preset("amd-sme")


def _xts_line(key1: bytes, key2: bytes, address: int, data: bytes, decrypt=False) -> bytes:
    """XTS-AES of one line from pycryptodome's AES-ECB: T_0 = E_key2(address as a 128-bit
    little-endian block), T_j+1 = T_j * x in GF(2^128) (IEEE 1619-2007 §5.2)."""
    tweak = int.from_bytes(AES.new(key2, AES.MODE_ECB).encrypt(address.to_bytes(16, "little")),
                           "little")
    cipher = AES.new(key1, AES.MODE_ECB)
    out = b""
    for j in range(LINE // 16):
        mask = tweak.to_bytes(16, "little")
        block = bytes(a ^ b for a, b in zip(data[16 * j:16 * j + 16], mask, strict=True))
        block = cipher.decrypt(block) if decrypt else cipher.encrypt(block)
        out += bytes(a ^ b for a, b in zip(block, mask, strict=True))
        tweak = (tweak << 1 ^ (0x87 if tweak >> 127 else 0)) & ((1 << 128) - 1)
    return out


def _xts_cryptography(key1: bytes, key2: bytes, address: int, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key1 + key2),
                       modes.XTS(address.to_bytes(16, "little"))).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def _keys(rng, bits):
    while True:
        key1, key2 = rng.randbytes(bits // 8), rng.randbytes(bits // 8)
        if key1 != key2:        # `cryptography` refuses equal halves
            return key1, key2


@pytest.fixture
def rng():
    return random.Random(0x1022)


@pytest.fixture
def model(rng):
    return ControllerModel(SMALL, _keys(rng, SMALL.key_bits))


def test_model_does_not_import_the_rtl():
    tree = ast.parse(pathlib.Path(controller.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    assert not any(name.split(".")[0] == "amaranth" for name in imported)
    assert not any("gateware" in name or "regmap" in name for name in imported), imported
    assert imported <= {"enum", "collections.abc", "dataclasses", "..config", "..geometry",
                        "."}, imported


def test_enumerations_match_the_register_map():
    from memcrypt.regmap import FaultKind, KeyMode  # noqa: PLC0415

    assert {m.name: int(m) for m in Mode} == {m.name: int(m) for m in KeyMode}
    for fault in AccessFault:
        assert int(FaultKind[fault.name]) == int(fault)


@pytest.mark.parametrize("bits", [128, 256])
def test_keyed_lines_are_xts_of_the_stripped_address(model, rng, bits):
    keyid = 5
    key1, key2 = _keys(rng, bits)
    model.set_key(keyid, key1, key2)
    assert model.mode(keyid) == Mode.KEYED and model.keys(keyid) == (key1, key2)
    for _ in range(20):
        line = rng.randrange(SMALL.mem_bytes // LINE) * LINE
        plaintext = rng.randbytes(LINE)
        model.write(SMALL.join(keyid, line), plaintext)
        stored = model.ciphertext(line)
        assert stored == _xts_line(key1, key2, line, plaintext)
        assert stored == _xts_cryptography(key1, key2, line, plaintext)
        assert model.read(SMALL.join(keyid, line), LINE) == plaintext
        assert model.image()[line] == stored


def test_platform_key_by_default_and_after_clear_key(model, rng):
    platform = model.platform_key
    assert len(platform[0]) == len(platform[1]) == SMALL.key_bits // 8 == 32
    data = rng.randbytes(LINE)
    for keyid in (0, 1, 7, SMALL.num_keys - 1):
        assert model.mode(keyid) == Mode.PLATFORM and model.keys(keyid) == platform
        line = 0x1000 + LINE * keyid
        model.write(SMALL.join(keyid, line), data)
        assert model.ciphertext(line) == _xts_line(*platform, line, data)
    model.set_key(7, *_keys(rng, 128))
    model.clear_key(7)
    assert model.mode(7) == Mode.PLATFORM
    # The same line under two platform KeyIDs: one key, one tweak (the KeyID is not in it).
    model.write(SMALL.join(3, 0x2000), data)
    assert model.read(SMALL.join(9, 0x2000), LINE) == data


def test_aliases_read_through_the_other_keys(model, rng):
    k1, k2 = _keys(rng, 128), _keys(rng, 256)
    model.set_key(2, *k1)
    model.set_key(3, *k2)
    line = 0x3FC0
    data = rng.randbytes(LINE)
    model.write(SMALL.join(2, line), data)
    expected = _xts_line(*k2, line, _xts_line(*k1, line, data), decrypt=True)
    assert model.read(SMALL.join(3, line), LINE) == expected
    # A write under 3 re-encrypts the whole line under 3's keys.
    model.write(SMALL.join(3, line + 5), b"\xAA")
    merged = bytearray(expected)
    merged[5] = 0xAA
    assert model.ciphertext(line) == _xts_line(*k2, line, bytes(merged))
    assert model.read(SMALL.join(3, line), LINE) == bytes(merged)


def test_no_encrypt_stores_plaintext(model, rng):
    model.no_encrypt(4)
    assert model.mode(4) == Mode.NO_ENCRYPT and model.keys(4) is None
    data = rng.randbytes(2 * LINE)
    model.write(SMALL.join(4, 0x100), data)
    assert model.ciphertext(0x100) + model.ciphertext(0x140) == data
    keyed = _keys(rng, 128)
    model.set_key(6, *keyed)
    assert model.read(SMALL.join(6, 0x100), LINE) == _xts_line(*keyed, 0x100, data[:LINE],
                                                                decrypt=True)


def test_strobes_and_unaligned_spans(model, rng):
    keyid = 8
    keys = _keys(rng, 256)
    model.set_key(keyid, *keys)
    base = SMALL.join(keyid, 0x800)
    before = model.read(base, 3 * LINE)          # lines never written: D_k(zeros)
    assert before[:LINE] == _xts_line(*keys, 0x800, bytes(LINE), decrypt=True)
    data = rng.randbytes(100)
    strobe = rng.getrandbits(100)
    model.write(base + 30, data, strobe)
    expected = bytearray(before)
    for i in range(100):
        if strobe >> i & 1:
            expected[30 + i] = data[i]
    assert model.read(base, 3 * LINE) == bytes(expected)
    assert set(model.image()) == {0x800, 0x840, 0x880}
    for index, line in enumerate((0x800, 0x840, 0x880)):
        assert model.ciphertext(line) == _xts_line(*keys, line,
                                                   bytes(expected[LINE * index:][:LINE]))
    assert model.read_bytes([base + 130, base + 31, base + 130]) == [
        expected[130], expected[31], expected[130]]
    model.write(base + 1, b"\x00\x00", strobe=0)     # nothing enabled: nothing changes
    model.write_bytes({})
    assert model.read(base, 3 * LINE) == bytes(expected)


def test_a_key_change_leaves_memory_alone(model, rng):
    old, new = _keys(rng, 128), _keys(rng, 128)
    model.set_key(10, *old)
    data = rng.randbytes(LINE)
    model.write(SMALL.join(10, 0x40), data)
    image = model.image()
    model.set_key(10, *new)
    assert model.image() == image
    assert model.read(SMALL.join(10, 0x40), LINE) == _xts_line(
        *new, 0x40, _xts_line(*old, 0x40, data), decrypt=True)


def test_refused_accesses_change_nothing(rng):
    config = replace(SMALL, num_keys=12, mem_bytes=1 << 18)
    model = ControllerModel(config, _keys(rng, 256))
    model.write(config.join(1, 0x40), rng.randbytes(LINE))
    image = model.image()
    cases = [
        (config.join(12, 0), 4, AccessFault.INVALID_KEYID),
        (config.join(15, 1 << 18), 16, AccessFault.INVALID_KEYID),    # checked first
        (config.join(3, 1 << 18), 16, AccessFault.OUT_OF_RANGE),
        (config.join(3, (1 << 18) - 8), 16, AccessFault.OUT_OF_RANGE),  # its last bytes
        (config.join(3, (1 << 18) - 16), 16, None),
    ]
    for address, nbytes, fault in cases:
        assert model.range_fault(address, nbytes) == fault
        if fault is None:
            continue
        with pytest.raises(AccessRefused) as refused:
            model.write(address, bytes(nbytes))
        assert refused.value.fault == fault and refused.value.address == address
        with pytest.raises(AccessRefused):
            model.read(address, nbytes)
        with pytest.raises(AccessRefused):
            model.write(address, bytes(nbytes), strobe=0)
    assert model.image() == image


def test_amd_sme_keyid0_plaintext_keyid1_platform(rng):
    platform = _keys(rng, 128)
    model = ControllerModel(SME, platform)
    assert SME.key_bits == 128
    assert model.mode(0) == Mode.NO_ENCRYPT and model.mode(1) == Mode.PLATFORM
    data = rng.randbytes(LINE)
    model.write(SME.join(0, 0x1000), data)
    assert model.ciphertext(0x1000) == data
    assert model.read(SME.join(1, 0x1000), LINE) == _xts_line(*platform, 0x1000, data,
                                                               decrypt=True)
    model.write(SME.join(1, 0x2000), data)
    assert model.ciphertext(0x2000) == _xts_line(*platform, 0x2000, data)
    for keyid in (0, 1):
        with pytest.raises(ValueError, match="not programmable"):
            model.set_key(keyid, *_keys(rng, 128))
    with pytest.raises(ValueError, match="16 bytes"):
        ControllerModel(SME, _keys(rng, 256))


def test_argument_checks(rng):
    model = ControllerModel(SMALL)
    with pytest.raises(RuntimeError, match="platform key"):
        model.read(0, 1)
    model.set_platform_key(*_keys(rng, 256))
    with pytest.raises(ValueError, match="not programmable"):
        model.set_key(0, *_keys(rng, 128))
    with pytest.raises(ValueError, match="not programmable"):
        model.no_encrypt(SMALL.num_keys)
    with pytest.raises(ValueError, match="pairs"):
        model.set_key(3, bytes(16), bytes(32))
    with pytest.raises(ValueError, match="line address"):
        model.ciphertext(0x41)
    with pytest.raises(ValueError, match="line address"):
        model.set_ciphertext(SMALL.mem_bytes, bytes(LINE))
    with pytest.raises(ValueError, match="no key storage"):
        model.mode(SMALL.num_keys)
    with pytest.raises(TypeError):
        ControllerModel(object())
    model.set_ciphertext(0x40, bytes(range(LINE)))
    assert model.ciphertext(0x40) == bytes(range(LINE))
