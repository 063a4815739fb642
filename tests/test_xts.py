"""Amaranth-simulator tests of the AES-XTS line engine (``memcrypt.gateware.xts.XTSEngine``).

Expected values come from the golden model (pycryptodome plus the plain-Python XTS), never
from the design under test.
"""

import random

import pytest
from streams import StallPattern, stream_get, stream_put
from test_aes import BAD_PARAMETERS

from memcrypt.flow.simulation import run_testbenches
from memcrypt.gateware.xts import XTSEngine
from memcrypt.model import golden, vectors


def run_lines(dut, requests, *, in_stall=0.0, out_stall=0.0):
    results = []

    async def producer(ctx):
        stall = StallPattern(in_stall, 11)
        for request in requests:
            await stream_put(ctx, dut.i_stream, request, stall)

    async def consumer(ctx):
        stall = StallPattern(out_stall, 12)
        for _ in requests:
            results.append(await stream_get(ctx, dut.o_stream, ("data", "tag"), stall))

    run_testbenches(dut, producer, consumer)
    return results


@pytest.mark.parametrize("architecture, tweak_sbox", [
    ("pipelined", None), ("iterative", None), ("pipelined", "lut")])
@pytest.mark.parametrize("key_bits", [128, 256])
def test_xts_lines_against_golden(architecture, tweak_sbox, key_bits):
    rng = random.Random(key_bits + len(architecture))
    requests, expected = [], []
    for index in range(12):
        key1, key2 = rng.randbytes(key_bits // 8), rng.randbytes(key_bits // 8)
        address = rng.randrange(1 << 34) * golden.LINE_BYTES
        line = rng.randbytes(golden.LINE_BYTES)
        decrypt = rng.random() < 0.5
        if decrypt:
            result = golden.decrypt_line(key1, key2, address, line)
            data_key = golden.decryption_key(key1)
        else:
            result = golden.encrypt_line(key1, key2, address, line)
            data_key = key1
        requests.append(dict(data=golden.to_bus(line), data_key=golden.to_bus(data_key),
                             tweak_key=golden.to_bus(key2), tweak=golden.line_tweak(address),
                             decrypt=int(decrypt), tag=index))
        expected.append((golden.to_bus(result), index))
    options = {"tweak_sbox": tweak_sbox} if tweak_sbox else {}
    dut = XTSEngine(key_bits=key_bits, architecture=architecture, direction="both",
                    tag_width=8, **options)
    assert run_lines(dut, requests, in_stall=0.3, out_stall=0.4) == expected


def test_xts_published_line_vectors():
    lines = vectors.xts_line_vectors(include_prefixes=True)
    assert lines, "no 64-byte vectors found"
    for key_bits in (128, 256):
        chosen = [v for v in lines if len(v.key1) * 8 == key_bits]
        requests, expected = [], []
        for index, v in enumerate(chosen):
            requests.append(dict(data=golden.to_bus(v.plaintext), data_key=golden.to_bus(v.key1),
                                 tweak_key=golden.to_bus(v.key2), tweak=v.tweak, decrypt=0,
                                 tag=index % 256))
            expected.append((golden.to_bus(v.ciphertext), index % 256))
        dut = XTSEngine(key_bits=key_bits, architecture="pipelined", direction="both",
                        tag_width=8)
        assert run_lines(dut, requests) == expected


@pytest.mark.parametrize("kwargs, error, message", BAD_PARAMETERS)
def test_bad_parameters_raise(kwargs, error, message):
    with pytest.raises(error, match=message):
        XTSEngine(**kwargs)


def test_bad_architecture():
    with pytest.raises(ValueError,
                       match=r"Architecture must be 'pipelined' or 'iterative', not 'unrolled'"):
        XTSEngine(architecture="unrolled")
