"""Amaranth-simulator tests of the AES cores and the key-schedule unit
(``memcrypt.gateware.aes``); the XTS engine's are in ``test_xts.py``.

Expected values come from the golden model (pycryptodome plus the plain-Python XTS), never
from the design under test.
"""

import random

import pytest
from streams import StallPattern, stream_get, stream_put

from memcrypt.flow.simulation import run_testbenches
from memcrypt.gateware.aes import INV_SBOX, SBOX, AESIterative, AESPipeline, KeyScheduleUnit
from memcrypt.model import golden, vectors

CORES = [
    pytest.param(AESPipeline, id="pipelined"),
    pytest.param(AESIterative, id="iterative"),
]


def run_blocks(dut, cases, *, in_stall=0.0, out_stall=0.0, seed=0):
    """Push ``cases`` (block, key, decrypt, tag) through ``dut``; return (block, tag) list."""
    results = []
    both = "decrypt" in dut.i_stream.payload.shape().members

    async def producer(ctx):
        stall = StallPattern(in_stall, seed)
        for block, key, decrypt, tag in cases:
            payload = {"block": block, "key": key, "tag": tag}
            if both:
                payload["decrypt"] = decrypt
            await stream_put(ctx, dut.i_stream, payload, stall)

    async def consumer(ctx):
        stall = StallPattern(out_stall, seed + 1)
        for _ in cases:
            results.append(await stream_get(ctx, dut.o_stream, ("block", "tag"), stall))
        # Nothing more may come out.
        ctx.set(dut.o_stream.ready, 1)
        for _ in range(40):
            _, _, valid = await ctx.tick().sample(dut.o_stream.valid)
            assert not valid, "the core produced more blocks than it was given"

    run_testbenches(dut, producer, consumer)
    return results


def random_cases(key_bits, count, *, decrypt_mode, seed):
    rng = random.Random(seed)
    cases, expected = [], []
    for index in range(count):
        key = rng.randbytes(key_bits // 8)
        block = rng.randbytes(16)
        decrypt = {"encrypt": False, "decrypt": True}.get(decrypt_mode, rng.random() < 0.5)
        if decrypt:
            key_in = golden.decryption_key(key)
            result = golden.aes_decrypt_block(key, block)
        else:
            key_in = key
            result = golden.aes_encrypt_block(key, block)
        cases.append((golden.to_bus(block), golden.to_bus(key_in), int(decrypt), index % 256))
        expected.append((golden.to_bus(result), index % 256))
    return cases, expected


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("vector", vectors.fips197_block_vectors(), ids=lambda v: v.name)
def test_fips197_appendix_c(core, vector):
    if len(vector.key) not in (16, 32):
        pytest.skip("AES-192 is not built")
    key_bits = len(vector.key) * 8
    dut = core(key_bits=key_bits, direction="both", tag_width=4)
    cases = [
        (golden.to_bus(vector.plaintext), golden.to_bus(vector.key), 0, 1),
        (golden.to_bus(vector.ciphertext), golden.to_bus(golden.decryption_key(vector.key)), 1, 2),
    ]
    assert run_blocks(dut, cases) == [(golden.to_bus(vector.ciphertext), 1),
                                      (golden.to_bus(vector.plaintext), 2)]


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("key_bits", [128, 256])
@pytest.mark.parametrize("direction", ["encrypt", "decrypt", "both"])
def test_random_blocks_new_key_every_block(core, key_bits, direction):
    count = 60 if core is AESPipeline else 24
    cases, expected = random_cases(key_bits, count, decrypt_mode=direction, seed=key_bits)
    dut = core(key_bits=key_bits, direction=direction, tag_width=8)
    assert run_blocks(dut, cases) == expected


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("stalls", [(0.5, 0.0), (0.0, 0.7), (0.3, 0.5)],
                         ids=["input-idle", "output-backpressure", "both"])
def test_backpressure_keeps_order_and_tags(core, stalls):
    cases, expected = random_cases(128, 48 if core is AESPipeline else 16,
                                   decrypt_mode="both", seed=7)
    dut = core(key_bits=128, direction="both", tag_width=8)
    assert run_blocks(dut, cases, in_stall=stalls[0], out_stall=stalls[1], seed=3) == expected


def test_pipeline_holds_no_more_than_its_fifo():
    dut = AESPipeline(key_bits=128, direction="encrypt", tag_width=8)
    accepted = []

    async def producer(ctx):
        ctx.set(dut.i_stream.valid, 1)
        for _ in range(3 * dut.fifo_depth):
            _, _, ready = await ctx.tick().sample(dut.i_stream.ready)
            accepted.append(ready)

    run_testbenches(dut, producer)
    assert sum(accepted) == dut.fifo_depth  # nothing is read, so it fills up and stops


@pytest.mark.parametrize("key_bits", [128, 256])
def test_key_schedule_unit(key_bits):
    rng = random.Random(key_bits)
    keys = [rng.randbytes(key_bits // 8) for _ in range(6)]
    dut = KeyScheduleUnit(key_bits=key_bits)
    results = []

    async def producer(ctx):
        for key in keys:
            await stream_put(ctx, dut.i_stream, golden.to_bus(key), StallPattern(0.3, 1))

    async def consumer(ctx):
        for _ in keys:
            results.append(await stream_get(ctx, dut.o_stream, stall=StallPattern(0.3, 2)))

    run_testbenches(dut, producer, consumer)
    assert results == [golden.to_bus(golden.decryption_key(k)) for k in keys]


def test_sbox_tables_are_fips197():
    assert SBOX == golden.SBOX and INV_SBOX == golden.INV_SBOX
    assert SBOX[0x53] == 0xED  # FIPS-197 §5.1.1 worked example


#: Parameters every AES core and the XTS engine refuse, with the error and its message.
BAD_PARAMETERS = [
    (dict(key_bits=192), ValueError, r"Key size must be 128 or 256, not 192"),
    (dict(key_bits="128"), TypeError, r"Key size must be an integer, not '128'"),
    (dict(direction="sideways"), ValueError,
     r"Direction must be one of 'encrypt', 'decrypt', 'both', not 'sideways'"),
    (dict(tag_width=-1), ValueError, r"Tag width must be a non-negative integer, not -1"),
    (dict(tag_width=2.5), TypeError, r"Tag width must be an integer, not 2.5"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD_PARAMETERS)
@pytest.mark.parametrize("core", [AESPipeline, AESIterative])
def test_bad_parameters_raise(core, kwargs, error, message):
    with pytest.raises(error, match=message):
        core(**kwargs)


def test_bad_sbox():
    with pytest.raises(ValueError, match=r"S-box style must be 'bram' or 'lut', not 'rom'"):
        AESPipeline(sbox="rom")


def test_lut_sboxes_match_bram_sboxes():
    cases, expected = random_cases(256, 20, decrypt_mode="both", seed=5)
    dut = AESPipeline(key_bits=256, direction="both", tag_width=8, sbox="lut")
    assert run_blocks(dut, cases) == expected


@pytest.mark.parametrize("stages_per_round", [2, 3, 4])
def test_every_stage_count_gives_the_same_blocks(stages_per_round):
    cases, expected = random_cases(128, 30, decrypt_mode="both", seed=stages_per_round)
    dut = AESPipeline(key_bits=128, direction="both", tag_width=8,
                      stages_per_round=stages_per_round)
    assert dut.latency == 1 + stages_per_round * 10 + 2
    assert run_blocks(dut, cases, in_stall=0.2, out_stall=0.3) == expected


@pytest.mark.parametrize("kwargs, message", [
    (dict(stages_per_round=5), "Stages per round must be 2, 3 or 4, not 5"),
    (dict(stages_per_round=True), "Stages per round must be 2, 3 or 4, not True"),
    (dict(stages_per_round=4, sbox="lut"), r"4 stages per round need block-RAM S-boxes"),
])
def test_bad_stage_counts_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AESPipeline(**kwargs)
