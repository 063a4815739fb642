"""The AES-XTS self-test: the board top that ``memcrypt build --board NAME`` puts on an FPGA.

It feeds the XTS engine from an on-chip pattern ROM (lines, keys, addresses,
precomputed by the golden model at elaboration time), compares every result with the
precomputed answer, and repeats forever. LED 0 lights once a full pass has completed with
no mismatch, LED 1 lights on any mismatch, LED 7 blinks to show the clock runs.
"""

import random

from amaranth.hdl import Array, Const, Module, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import Out

from ..model import golden
from .aes import rejecting_parameters
from .xts import XTSEngine

__all__ = ["SelfTest", "self_test_vectors"]


def self_test_vectors(*, count=4, key_bits=128, seed=1619):
    """Requests and expected answers: ``count`` lines encrypted, then decrypted back."""
    rng = random.Random(seed)
    requests = []
    for _ in range(count):
        key1, key2 = rng.randbytes(key_bits // 8), rng.randbytes(key_bits // 8)
        address = rng.randrange(1 << 28) * golden.LINE_BYTES
        plain = rng.randbytes(golden.LINE_BYTES)
        cipher = golden.encrypt_line(key1, key2, address, plain)
        requests.append(dict(decrypt=0, data=plain, data_key=key1, tweak_key=key2,
                             tweak=address, expected=cipher))
        requests.append(dict(decrypt=1, data=cipher, data_key=golden.decryption_key(key1),
                             tweak_key=key2, tweak=address, expected=plain))
    return requests


class SelfTest(wiring.Component):
    """XTS engine + pattern ROM + checker.

    Parameters
    ----------
    key_bits : int
        128 or 256.
    architecture : str
        ``"pipelined"`` or ``"iterative"`` engine.
    count : int
        Lines per pass (each is also decrypted back, so ``2 * count`` requests).
    corrupt : bool
        Flip one expected bit (for testing that the checker can fail).

    Members
    -------
    passed : Out(1)
        High once a whole pass matched, until a mismatch is seen.
    failed : Out(1)
        Sticky: a result differed from its precomputed answer.
    passes : Out(16)
        Completed passes, for simulation and debugging.
    """

    passed: Out(1)
    failed: Out(1)
    passes: Out(16)

    def __init__(self, *, key_bits=128, architecture="iterative", count=4, corrupt=False):
        with rejecting_parameters(self):
            if not isinstance(count, int) or count < 1:
                raise ValueError(f"Self-test line count must be a positive integer, "
                                 f"not {count!r}")
        self._engine = XTSEngine(key_bits=key_bits, architecture=architecture,
                                 direction="both", tag_width=4)
        self._vectors = self_test_vectors(count=count, key_bits=key_bits)
        if corrupt:
            self._vectors[0]["expected"] = bytes([self._vectors[0]["expected"][0] ^ 1]) + \
                self._vectors[0]["expected"][1:]
        self._key_bits = key_bits
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = engine = self._engine
        kb = self._key_bits
        layout = data.StructLayout({"decrypt": 1, "data": 512, "data_key": kb, "tweak_key": kb,
                                    "tweak": 128})
        rows = [{"decrypt": v["decrypt"], "data": golden.to_bus(v["data"]),
                 "data_key": golden.to_bus(v["data_key"]),
                 "tweak_key": golden.to_bus(v["tweak_key"]), "tweak": v["tweak"]}
                for v in self._vectors]
        depth = len(rows)
        m.submodules.requests = requests = memory.Memory(shape=layout, depth=depth, init=rows)
        request_port = requests.read_port(domain="comb")
        expected = Array(Const(golden.to_bus(v["expected"]), 512) for v in self._vectors)

        issue = Signal(range(depth))
        check = Signal(range(depth))
        mismatch_seen = Signal()
        heartbeat = Signal(24)
        m.d.sync += heartbeat.eq(heartbeat + 1)
        m.d.comb += [
            request_port.addr.eq(issue),
            engine.i_stream.payload.decrypt.eq(request_port.data.decrypt),
            engine.i_stream.payload.data.eq(request_port.data.data),
            engine.i_stream.payload.data_key.eq(request_port.data.data_key),
            engine.i_stream.payload.tweak_key.eq(request_port.data.tweak_key),
            engine.i_stream.payload.tweak.eq(request_port.data.tweak),
            engine.i_stream.payload.tag.eq(issue),
            engine.i_stream.valid.eq(1),
            engine.o_stream.ready.eq(1),
            self.failed.eq(mismatch_seen),
        ]
        with m.If(engine.i_stream.ready):
            m.d.sync += issue.eq(Const(0) if depth == 1 else
                                 (issue + 1) % depth)
        with m.If(engine.o_stream.valid):
            good = (engine.o_stream.payload.data == expected[check]) & \
                   (engine.o_stream.payload.tag == check)
            with m.If(~good):
                m.d.sync += [mismatch_seen.eq(1), self.passed.eq(0)]
            with m.If(check == depth - 1):
                m.d.sync += [check.eq(0), self.passes.eq(self.passes + 1)]
                with m.If(good & ~mismatch_seen):
                    m.d.sync += self.passed.eq(1)
            with m.Else():
                m.d.sync += check.eq(check + 1)

        if platform is not None and hasattr(platform, "request"):
            leds = [platform.request("led", i) for i in range(8)]
            m.d.comb += [leds[0].o.eq(self.passed), leds[1].o.eq(self.failed),
                         leds[7].o.eq(heartbeat[-1])]
        return m
