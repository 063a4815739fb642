"""cocotb bench for the AES block cores (``memcrypt.gateware.aes.AESPipeline`` / ``AESIterative``).

Checks, against pycryptodome (``Crypto.Cipher.AES``, ECB) for every block:

* ``random_blocks``: random blocks with a new random key on every block (so the key
  schedule never repeats between neighbours), with random pauses on both handshakes
  (``stalls``) and at full rate (``no_stalls``, where the clocks per block are recorded
  for tests/test_cocotb.py to check against one block per clock for the pipelined core
  and ``Nr + 1`` clocks per block for the iterative one). A "both" core also runs a
  ``mixed`` stream, encryptions and decryptions interleaved at random.
* ``known_answers``: the FIPS-197 Appendix B/C example blocks of the core's key size.
* ``reset_mid_stream``: a synchronous reset with blocks in flight discards them; the core
  then works normally.

Bus conventions (FIPS-197 byte ``k`` is bits ``[8k+7:8k]``, :func:`memcrypt.model.golden.to_bus`);
a block to decrypt carries :func:`memcrypt.model.golden.decryption_key` of its cipher key.
Parameters come from ``MEMCRYPT_BENCH_*`` (:class:`sim.bench_common.BenchConfig`).
"""

import cocotb
from cocotb.triggers import RisingEdge
from Crypto.Cipher import AES

from memcrypt.model import golden, vectors
from sim.bench_common import (
    BenchConfig,
    CipherBench,
    PauseGenerator,
    distinct_key,
    record_results,
    steady_interval,
)

CONFIG = BenchConfig.from_env()
KEY_BYTES = CONFIG.key_bytes
#: Clocks from input handshake to output, as the design reports it (``latency``).
LATENCY = CONFIG.core_latency
#: Clocks per block at full rate, as the cores are specified: the pipelined core takes a
#: block every clock; the iterative one, Nr + 1 clocks per block.
BLOCK_CLOCKS = 1 if CONFIG.architecture == "pipelined" else CONFIG.rounds + 1
#: The operations this core can run: a single-direction core only its own.
OPERATIONS = ("encrypt", "decrypt", "mixed") if CONFIG.both else (CONFIG.direction,)
LABEL = CONFIG.label("aes")


class TB(CipherBench):
    """One AES core: packs requests, predicts results with pycryptodome, keeps tags."""

    def __init__(self, dut, seed):
        super().__init__(dut, seed, CONFIG,
                         request_fields=[("block", 128), ("key", CONFIG.key_bits)],
                         response_fields=[("block", 128)])

    def describe(self, payload: int) -> str:
        fields = self.responses.unpack(payload)
        return f"block {golden.from_bus(fields['block'], 16).hex()}" + self.describe_tag(fields)

    def submit(self, key: bytes, block: bytes, decrypt: bool, label: str,
               expected: bytes | None = None):
        """Queue one block and its pycryptodome result (or the given ``expected``)."""
        cipher = AES.new(key, AES.MODE_ECB)
        result = cipher.decrypt(block) if decrypt else cipher.encrypt(block)
        if expected is not None:
            assert result == expected, f"{label}: pycryptodome disagrees with the vector"
        self.issue({"block": golden.to_bus(block),
                    "key": golden.to_bus(golden.decryption_key(key) if decrypt else key)},
                   {"block": golden.to_bus(result)}, decrypt,
                   f"{label} ({'decrypt' if decrypt else 'encrypt'} "
                   f"key {key.hex()} block {block.hex()})")

    def cycle_budget(self, blocks: int) -> int:
        """Generous clock limit for ``blocks`` blocks under random stalls."""
        return 200 + 4 * LATENCY + 8 * blocks * BLOCK_CLOCKS

    async def finish(self, blocks: int):
        await self.wait_done(self.cycle_budget(blocks))
        await self.assert_nothing_in_flight(2 * LATENCY + 16)


def _decrypt_for(operation: str, rng) -> bool:
    if operation == "mixed":
        return rng.random() < 0.5
    return operation == "decrypt"


@cocotb.test
@cocotb.parametrize(operation=OPERATIONS, traffic=("stalls", "no_stalls"))
async def random_blocks(dut, operation, traffic):
    """Random blocks, a fresh key on every block, compared with pycryptodome."""
    if traffic != "stalls":
        count = CONFIG.quick_count
    else:
        count = CONFIG.mixed_count if operation == "mixed" else CONFIG.count
    rng = CONFIG.rng("random_blocks", operation, traffic)
    tb = TB(dut, seed=f"{CONFIG.seed}/{operation}/{traffic}")
    tb.set_traffic(traffic, f"{CONFIG.seed}/{operation}/{traffic}")
    await tb.reset()
    keys, previous = set(), None
    for index in range(count):
        key = distinct_key(rng, KEY_BYTES, previous)
        previous = key
        keys.add(key)
        tb.submit(key, rng.randbytes(16), _decrypt_for(operation, rng), f"block {index}")
    await tb.finish(count)
    cycles = tb.sink.last_cycle - tb.source.first_cycle + 1
    steady = steady_interval(tb.source.accept_cycles)
    board = tb.scoreboard
    stalls = (f"input held off {tb.source.held_off}, output held back {tb.sink.held_back} "
              "clocks")
    record_results(
        CONFIG, f"random_blocks/{operation}/{traffic}",
        f"{LABEL}: {operation} {traffic}: {count} random blocks ({tb.encryptions} encrypt, "
        f"{tb.decryptions} decrypt), {len(keys)} keys, {board.mismatches} mismatches, "
        f"{cycles} cycles ({cycles / count:.2f} per block, {steady:.2f} in steady state; "
        f"{stalls})",
        blocks=count, encrypt=tb.encryptions, decrypt=tb.decryptions, keys=len(keys),
        matched=board.matched, mismatches=board.mismatches, unexpected=board.unexpected,
        cycles=cycles, steady_clocks=steady, rate_clocks=BLOCK_CLOCKS,
        # Full rate: the pipeline or the iterations fill once, then a block per rate_clocks.
        cycle_limit=count * BLOCK_CLOCKS + LATENCY + 4,
        held_off=tb.source.held_off, held_back=tb.sink.held_back)
    tb.check(f"{LABEL} {operation} {traffic}")
    assert board.matched == count
    assert len(keys) == count, "the key must change on every block"
    # The throughput (no_stalls) is judged by tests/test_cocotb.py from the recorded counts.


@cocotb.test
async def known_answers(dut):
    """FIPS-197 Appendix B / C example blocks of this key size, in each direction the
    core supports, with random stalls."""
    tb = TB(dut, seed=f"{CONFIG.seed}/kat")
    tb.set_traffic("stalls", f"{CONFIG.seed}/kat")
    await tb.reset()
    kats = [v for v in vectors.fips197_block_vectors() if len(v.key) == KEY_BYTES]
    directions = {"encrypt": (False,), "decrypt": (True,), "both": (False, True)}
    for vector in kats:
        for decrypt in directions[CONFIG.direction]:
            block, expected = ((vector.ciphertext, vector.plaintext) if decrypt else
                               (vector.plaintext, vector.ciphertext))
            tb.submit(vector.key, block, decrypt, f"{vector.source} {vector.name}",
                      expected=expected)
    total = tb.encryptions + tb.decryptions
    await tb.finish(total)
    board = tb.scoreboard
    record_results(
        CONFIG, "known_answers",
        f"{LABEL}: known answers: {len(kats)} FIPS-197 vectors, {total} blocks "
        f"({tb.encryptions} encrypt, {tb.decryptions} decrypt), {board.mismatches} mismatches",
        vectors=len(kats), blocks=total, matched=board.matched, mismatches=board.mismatches)
    tb.check(f"{LABEL} known answers")
    assert kats and board.matched == total


@cocotb.test
async def reset_mid_stream(dut):
    """A synchronous reset with blocks in flight and results waiting drops all of them;
    afterwards the core takes and transforms a fresh stream correctly."""
    rng = CONFIG.rng("reset")
    tb = TB(dut, seed=f"{CONFIG.seed}/reset")
    tb.set_traffic("no_stalls", f"{CONFIG.seed}/reset")
    await tb.reset()
    operation = OPERATIONS[-1]
    # Fill the core while the sink takes nothing, then reset it.
    tb.sink.set_pause_generator(PauseGenerator(1.0, 0))
    for index in range(2 * LATENCY):
        tb.submit(rng.randbytes(KEY_BYTES), rng.randbytes(16), _decrypt_for(operation, rng),
                  f"dropped {index}")
    for _ in range(LATENCY + 4):
        await RisingEdge(dut.clk)
    # Blocks the core took and never delivered: in its pipeline or output buffer.
    dropped = tb.source.sent - tb.sink.received
    tb.source.clear()
    tb.scoreboard.expected.clear()
    tb.scoreboard.empty_event.set()
    await tb.reset()
    received_before = tb.sink.received
    tb.set_traffic("stalls", f"{CONFIG.seed}/reset")
    count = 64
    for index in range(count):
        tb.submit(rng.randbytes(KEY_BYTES), rng.randbytes(16), _decrypt_for(operation, rng),
                  f"after reset {index}")
    await tb.finish(count)
    board = tb.scoreboard
    fresh = tb.sink.received - received_before
    record_results(
        CONFIG, "reset_mid_stream",
        f"{LABEL}: reset mid-stream: {dropped} blocks inside the core dropped, {count} blocks "
        f"after it, {board.mismatches} mismatches, {board.unexpected} unexpected outputs",
        dropped=dropped, blocks=count, received=fresh, mismatches=board.mismatches,
        unexpected=board.unexpected)
    tb.check(f"{LABEL} reset mid-stream")
    assert dropped > 0, "nothing was in flight when the reset came"
    assert fresh == count

