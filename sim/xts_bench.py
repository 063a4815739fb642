"""cocotb bench for the AES-XTS line engine (``memcrypt.gateware.xts.XTSEngine``).

A request is one 64-byte line: ``data`` (512), ``data_key`` (key 1 when encrypting,
:func:`memcrypt.model.golden.decryption_key` of key 1 when decrypting), ``tweak_key`` (key 2),
``tweak`` (128), ``decrypt`` ("both" engines only) and ``tag``; the response is the
transformed line and its tag, in request order. Every line is checked against the golden
model (:mod:`memcrypt.model.golden`, IEEE 1619-2007 §5 over pycryptodome's AES):

* ``random_lines``: random data, fresh random keys on every line, encryptions and
  decryptions interleaved; half the tweaks are random 64-byte aligned line addresses
  (:func:`~memcrypt.model.golden.encrypt_line`), half full 128-bit random tweaks
  (:func:`~memcrypt.model.golden.xts_encrypt`). With random stalls on both handshakes and at full
  rate, where the clocks per line are recorded for tests/test_cocotb.py to check (four for
  a pipelined engine, as specified; ``4 (Nr + 1)`` for an iterative one).
* ``vector_lines``: the published vectors that are one 64-byte data unit, and the 64-byte
  prefixes of the longer IEEE 1619 and Wycheproof units
  (:func:`memcrypt.model.vectors.xts_line_vectors` with ``include_prefixes=True``), each run
  through the engine in both directions.
* ``short_units``: the shorter whole-block units (NIST CAVP's 16/32/48-byte ones, the short
  Wycheproof and IEEE 1619 ones) as the first blocks of a line padded with random blocks.
  XTS without stealing is block-wise, so the first blocks of the line must reproduce the
  published bytes; the whole line is checked against the golden model. Under a slow
  simulator a seeded sample is run (``MEMCRYPT_BENCH_SHORT_UNITS``; 0 means all).
"""

import os
from collections import Counter

import cocotb

from memcrypt.geometry import BLOCK_BYTES, BLOCKS_PER_LINE, LINE_BITS, LINE_BYTES
from memcrypt.model import golden, vectors
from sim.bench_common import (
    BenchConfig,
    CipherBench,
    distinct_key,
    record_results,
    steady_interval,
)

CONFIG = BenchConfig.from_env()
KEY_BYTES = CONFIG.key_bytes
#: Clocks through one of the engine's AES cores (a tweak core ahead of a data core), as
#: the cores report it (``latency``).
CORE_LATENCY = CONFIG.core_latency
#: Clocks per line at full rate, as the engine is specified: a pipelined data core takes
#: one block per clock; an iterative one, Nr + 1 clocks per block.
LINE_CLOCKS = BLOCKS_PER_LINE * (1 if CONFIG.architecture == "pipelined" else CONFIG.rounds + 1)
SHORT_UNITS = int(os.environ.get("MEMCRYPT_BENCH_SHORT_UNITS", "0"))
LABEL = CONFIG.label("xts")
DIRECTIONS = {"encrypt": (False,), "decrypt": (True,), "both": (False, True)}[CONFIG.direction]


class TB(CipherBench):
    """One XTS engine: packs line requests, predicts results with the golden model."""

    def __init__(self, dut, seed):
        super().__init__(dut, seed, CONFIG,
                         request_fields=[("data", LINE_BITS), ("data_key", CONFIG.key_bits),
                                         ("tweak_key", CONFIG.key_bits), ("tweak", 128)],
                         response_fields=[("data", LINE_BITS)])

    def describe(self, payload: int) -> str:
        fields = self.responses.unpack(payload)
        line = golden.from_bus(fields["data"], golden.LINE_BYTES)
        text = " ".join(line[i:i + BLOCK_BYTES].hex()
                        for i in range(0, LINE_BYTES, BLOCK_BYTES))
        return f"line [{text}]" + self.describe_tag(fields)

    def submit(self, key1: bytes, key2: bytes, tweak: int, data: bytes, decrypt: bool,
               label: str, *, address: bool = False, published: bytes | None = None):
        """Queue one line and its golden result.

        ``address``: ``tweak`` is a line address (checked with ``encrypt_line``).
        ``published``: bytes the result must start with (a published vector's output).
        """
        if address:
            transform = golden.decrypt_line if decrypt else golden.encrypt_line
        else:
            transform = golden.xts_decrypt if decrypt else golden.xts_encrypt
        result = transform(key1, key2, tweak, data)
        if published is not None:
            assert result[:len(published)] == published, (
                f"{label}: the golden model disagrees with the published vector")
        request = {
            "data": golden.to_bus(data),
            "data_key": golden.to_bus(golden.decryption_key(key1) if decrypt else key1),
            "tweak_key": golden.to_bus(key2),
            "tweak": tweak,
        }
        self.issue(request, {"data": golden.to_bus(result)}, decrypt,
                   f"{label} ({'decrypt' if decrypt else 'encrypt'} key1 {key1.hex()} key2 "
                   f"{key2.hex()} tweak {tweak:#x} data {data.hex()})")

    async def finish(self, lines: int):
        await self.wait_done(400 + 10 * lines * LINE_CLOCKS)
        await self.assert_nothing_in_flight(4 * (2 * CORE_LATENCY + LINE_CLOCKS) + 32)


async def _start(dut, name: str, traffic: str) -> TB:
    seed = f"{CONFIG.seed}/{name}/{traffic}"
    tb = TB(dut, seed=seed)
    tb.set_traffic(traffic, seed)
    await tb.reset()
    return tb


def _random_decrypt(rng) -> bool:
    return DIRECTIONS[rng.randrange(len(DIRECTIONS))]


@cocotb.test
@cocotb.parametrize(traffic=("stalls", "no_stalls"))
async def random_lines(dut, traffic):
    """Random lines, fresh keys per line, aligned-address and full 128-bit tweaks."""
    count = CONFIG.count if traffic == "stalls" else CONFIG.quick_count
    rng = CONFIG.rng("random_lines", traffic)
    tb = await _start(dut, "random_lines", traffic)
    keys, previous = set(), None
    aligned = full = 0
    for index in range(count):
        key1 = distinct_key(rng, KEY_BYTES, previous)
        key2 = distinct_key(rng, KEY_BYTES, key1)
        previous = key1
        keys.update((key1, key2))
        data = rng.randbytes(golden.LINE_BYTES)
        if index % 2 == 0:
            # A line address: small, 48-bit and 64-bit physical spaces, or the full range.
            width = rng.choice((20, 48, 64, 128))
            tweak = rng.getrandbits(width) & ~(golden.LINE_BYTES - 1)
            aligned += 1
        else:
            tweak = rng.getrandbits(golden.TWEAK_BITS)
            full += 1
        tb.submit(key1, key2, tweak, data, _random_decrypt(rng), f"line {index}",
                  address=index % 2 == 0)
    await tb.finish(count)
    cycles = tb.sink.last_cycle - tb.source.first_cycle + 1
    steady = steady_interval(tb.source.accept_cycles)
    board = tb.scoreboard
    stalls = (f"input held off {tb.source.held_off}, output held back {tb.sink.held_back} "
              "clocks")
    record_results(
        CONFIG, f"random_lines/{traffic}",
        f"{LABEL}: random lines {traffic}: {count} lines ({tb.encryptions} encrypt, "
        f"{tb.decryptions} decrypt; {aligned} aligned-address tweaks, {full} full 128-bit "
        f"tweaks), {len(keys)} keys, {board.mismatches} mismatches, {cycles} cycles "
        f"({cycles / count:.2f} per line, {steady:.2f} in steady state; {stalls})",
        lines=count, encrypt=tb.encryptions, decrypt=tb.decryptions, aligned_tweaks=aligned,
        full_tweaks=full, keys=len(keys), matched=board.matched, mismatches=board.mismatches,
        unexpected=board.unexpected, cycles=cycles, steady_clocks=steady,
        rate_clocks=LINE_CLOCKS,
        # Full rate: the tweak core and the data core each fill once, then a line per
        # rate_clocks.
        cycle_limit=count * LINE_CLOCKS + 2 * CORE_LATENCY + 16,
        held_off=tb.source.held_off, held_back=tb.sink.held_back)
    tb.check(f"{LABEL} random lines {traffic}")
    assert board.matched == count
    # The throughput (no_stalls) is judged by tests/test_cocotb.py from the recorded counts.


@cocotb.test
@cocotb.parametrize(traffic=("stalls", "no_stalls"))
async def vector_lines(dut, traffic):
    """Published one-line XTS vectors and 64-byte prefixes of longer ones, both ways."""
    tb = await _start(dut, "vector_lines", traffic)
    chosen = [vector for vector in vectors.xts_line_vectors(include_prefixes=True)
              if vector.key_bits == CONFIG.key_bits]
    for vector in chosen:
        label = f"{vector.source} {vector.name}"
        for decrypt in DIRECTIONS:
            data, published = ((vector.ciphertext, vector.plaintext) if decrypt else
                               (vector.plaintext, vector.ciphertext))
            tb.submit(vector.key1, vector.key2, vector.tweak, data, decrypt, label,
                      published=published)
    lines = tb.encryptions + tb.decryptions
    await tb.finish(lines)
    board = tb.scoreboard
    sources = Counter(vector.source for vector in chosen)
    by_source = ", ".join(f"{source} {n}" for source, n in sorted(sources.items()))
    record_results(
        CONFIG, f"vector_lines/{traffic}",
        f"{LABEL}: vector lines {traffic}: {len(chosen)} vectors ({by_source}), {lines} lines "
        f"({tb.encryptions} encrypt, {tb.decryptions} decrypt), {board.mismatches} mismatches",
        vectors=len(chosen), sources=dict(sources), lines=lines, matched=board.matched,
        mismatches=board.mismatches, unexpected=board.unexpected)
    tb.check(f"{LABEL} vector lines {traffic}")
    assert chosen and board.matched == lines


@cocotb.test
async def short_units(dut):
    """Published units shorter than a line (CAVP, Wycheproof, IEEE 1619) as line prefixes."""
    rng = CONFIG.rng("short_units")
    tb = await _start(dut, "short_units", "stalls")
    candidates = [vector for vector in vectors.all_xts_vectors()
                  if vector.key_bits == CONFIG.key_bits
                  and len(vector.plaintext) < golden.LINE_BYTES]
    available = len(candidates)
    if 0 < SHORT_UNITS < available:
        candidates = rng.sample(candidates, SHORT_UNITS)
    for vector in candidates:
        padding = rng.randbytes(golden.LINE_BYTES - len(vector.plaintext))
        label = f"{vector.source} {vector.name} (+{len(padding)} random bytes)"
        for decrypt in DIRECTIONS:
            data, published = ((vector.ciphertext, vector.plaintext) if decrypt else
                               (vector.plaintext, vector.ciphertext))
            tb.submit(vector.key1, vector.key2, vector.tweak, data + padding, decrypt, label,
                      published=published)
    lines = tb.encryptions + tb.decryptions
    await tb.finish(lines)
    board = tb.scoreboard
    sources = Counter(vector.source.split(":")[0] for vector in candidates)
    by_source = ", ".join(f"{source} {n}" for source, n in sorted(sources.items()))
    record_results(
        CONFIG, "short_units",
        f"{LABEL}: short units: {len(candidates)} of {available} vectors ({by_source}) as line "
        f"prefixes, {lines} lines ({tb.encryptions} encrypt, {tb.decryptions} decrypt), "
        f"{board.mismatches} mismatches",
        vectors=len(candidates), available=available, sources=dict(sources), lines=lines,
        matched=board.matched, mismatches=board.mismatches, unexpected=board.unexpected)
    tb.check(f"{LABEL} short units")
    assert candidates and board.matched == lines
