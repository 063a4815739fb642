# amaranth: UnusedElaboratable=no
"""Each tag stays with its block, on the real AES datapath (no cut).

The stream specifications (:mod:`.aes_iterative`, :mod:`.aes_pipeline`) cut the AES
datapath to keep the solver's work small, so they show that tags travel correctly but not
that the block delivered with a tag is the one computed from the block that came in with
it. :class:`DatapathSpec` closes that gap: the producer is free, except that every block it
sends with the *marked* tag (all ones) carries a published FIPS-197 vector -- encrypt
Appendix C.1 (key ``000102..0f``, plaintext ``00112233..ff``) or decrypt Appendix B (its
ciphertext ``3925841d..``, with the decryption start key of ``2b7e1516..``), chosen by the
solver once per trace. Every other block is
arbitrary. The consumer must see, with every marked tag, the vector's expected result.

``aes_iterative_datapath`` proves it for
:class:`~memcrypt.gateware.aes.AESIterative`: **unbounded**,
k-induction (smtbmc + yices) with induction depth 13 -- longer than a block spends inside
the core before it is offered at the output (11 cycles), so any state with a wrong
intermediate value is refuted by the output check within the induction window; the waiting
at the output is covered by the payload-stability check. Control invariants as in
:mod:`.aes_iterative`.

The expected values come from the FIPS-197 vectors (:mod:`memcrypt.model.vectors`) and the golden
model's decryption key, never from the design. Because the producer may mark any block at
any position in the stream, interleaved with arbitrary others, this shows that data and tag
are never separated or mixed with a neighbour's, for these vectors.

``aes_pipeline_datapath`` proves the same for :class:`~memcrypt.gateware.aes.AESPipeline` (default
build: block-RAM S-boxes, 3 stages per round, 64 blocks of credit): **unbounded**, with
induction depth 4 (one round's stages plus one). It closes because the specification
asserts, for every valid stage holding a marked block, the FIPS-197 intermediate state and
round key of that stage (computed in Python from the vector, never from the design), and
for every FIFO word carrying the mark, the vector's result: a wrong value anywhere is
caught one stage later. Its cover (``aes_pipeline_datapath_cover``, a marked block out in
each direction) unrolls the whole datapath for the 35-cycle latency and runs with
``--slow``.
"""

from amaranth.asserts import AnyConst, AnySeq, Initial
from amaranth.hdl import (
    Assert,
    Assume,
    C,
    ClockDomain,
    Cover,
    Elaboratable,
    Fragment,
    Module,
    Mux,
    ResetSignal,
    Signal,
)
from amaranth.lib import data

from memcrypt.flow.formal import FormalTask
from memcrypt.gateware.aes import block_output_layout
from memcrypt.model import golden, vectors

from . import aes_iterative, aes_pipeline
from .whitebox import Probe

__all__ = ["fips197_aes128", "DatapathSpec", "tasks"]


def fips197_aes128():
    """``[(key, block, decrypt, expected, cipher key)]``: encrypt FIPS-197 Appendix C.1,
    decrypt Appendix B (its ciphertext, with its key's decryption start key). Bus integers,
    but for the cipher key (bytes)."""
    found = {v.name.split(" (")[0]: v for v in vectors.fips197_block_vectors()}
    encrypt, decrypt = found["Appendix C.1"], found["Appendix B"]
    bus = golden.to_bus
    return [
        (bus(encrypt.key), bus(encrypt.plaintext), 0, bus(encrypt.ciphertext), encrypt.key),
        (bus(golden.decryption_key(decrypt.key)), bus(decrypt.ciphertext), 1,
         bus(decrypt.plaintext), decrypt.key),
    ]


class DatapathSpec(Elaboratable):
    """A core between a free producer (marked blocks pinned to a vector) and a free consumer.

    Parameters
    ----------
    design : AESIterative or AESPipeline
        With ``direction="both"``, AES-128 and a tag.
    invariants : callable or None
        ``invariants(m, spec, probe)``, as for :class:`.stream_contract.StreamContractSpec`
        (``spec.held``/``pending``/``ahead`` are not available here).
    """

    def __init__(self, design, *, invariants=None):
        self.design = design
        self.invariants = invariants
        self.sync = ClockDomain("sync")
        self.ports = [self.sync.clk]
        self.mark = (1 << design.tag_width) - 1
        self.which = Signal()    # the vector of this trace: 0 encrypt, 1 decrypt

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.sync
        m.d.comb += ResetSignal("sync").eq(Initial())
        fragment = Fragment.get(self.design, platform)
        m.submodules.dut = fragment
        i, o = self.design.i_stream, self.design.o_stream
        in_bits = i.payload.as_value()
        m.d.comb += [
            i.valid.eq(AnySeq(1)),
            in_bits.eq(AnySeq(len(in_bits))),
            o.ready.eq(AnySeq(1)),
        ]

        # Stream rules for the producer.
        in_stalled = Signal()
        in_last = Signal(len(in_bits))
        m.d.sync += [in_stalled.eq(i.valid & ~i.ready), in_last.eq(in_bits)]
        with m.If(in_stalled):
            m.d.comb += Assume(i.valid & (in_bits == in_last))

        # Marked blocks carry the vector the solver picked for this trace.
        (key0, block0, dec0, out0, _), (key1, block1, dec1, out1, _) = fips197_aes128()
        which = self.which
        m.d.comb += which.eq(AnyConst(1))
        with m.If(i.valid & (i.payload.tag == self.mark)):
            m.d.comb += Assume((i.payload.key == Mux(which, key1, key0)) &
                               (i.payload.block == Mux(which, block1, block0)) &
                               (i.payload.decrypt == Mux(which, dec1, dec0)))

        # ... and leave with the vector's result.
        expected = Mux(which, out1, out0)
        out_marked = o.valid & (o.payload.tag == self.mark)
        with m.If(out_marked):
            m.d.comb += Assert(o.payload.block == expected)

        # The output holds while stalled (so a result, once right, stays right).
        out_stalled = Signal()
        out_last = Signal(len(o.payload.as_value()))
        m.d.sync += [out_stalled.eq(o.valid & ~o.ready), out_last.eq(o.payload.as_value())]
        with m.If(out_stalled):
            m.d.comb += Assert(o.valid & (o.payload.as_value() == out_last))

        m.d.comb += [
            Cover(out_marked & o.ready & ~which),
            Cover(out_marked & o.ready & which),
        ]
        if self.invariants is not None:
            self.invariants(m, self, Probe(fragment))
        return m


def _iterative_invariants(m, spec, probe):
    core = spec.design
    busy = probe.signal("busy", 1)
    done = probe.signal("done", 1)
    round_index = probe.signal("round_index")
    m.d.comb += Assert(~(busy & done))
    with m.If(busy):
        m.d.comb += Assert((round_index >= 1) & (round_index <= core.rounds))


# -- Intermediate values, for the pipeline's invariants ------------------------------------

def _xtime(b):
    return ((b << 1) ^ (0x1B if b & 0x80 else 0)) & 0xFF


def _mul(a, b):
    product = 0
    while b:
        if b & 1:
            product ^= a
        a, b = _xtime(a), b >> 1
    return product


def _mix(state, matrix):
    return bytes(
        _mul(matrix[row][0], state[4 * c]) ^ _mul(matrix[row][1], state[4 * c + 1]) ^
        _mul(matrix[row][2], state[4 * c + 2]) ^ _mul(matrix[row][3], state[4 * c + 3])
        for c in range(4) for row in range(4))


_MIX = ((2, 3, 1, 1), (1, 2, 3, 1), (1, 1, 2, 3), (3, 1, 1, 2))
_INV_MIX = ((14, 11, 13, 9), (9, 14, 11, 13), (13, 9, 14, 11), (11, 13, 9, 14))


def round_values(cipher_key, block, decrypt):
    """``[(state, key register)]`` after the input stage and after each round's linear
    stage, for an AES-128 block as the pipeline computes it (FIPS-197 §5.1, §5.3; the key
    register holds the round key the next round starts from). ``cipher_key`` in bytes,
    ``block`` and the results as bus integers."""
    state = golden.from_bus(block, 16)
    round_keys = golden.expand_key(cipher_key)
    nr = len(round_keys) - 1

    def xor(a, b):
        return bytes(x ^ y for x, y in zip(a, b, strict=True))

    def shift(s, sign):
        return bytes(s[r + 4 * ((c + sign * r) % 4)] for c in range(4) for r in range(4))

    state = xor(state, round_keys[nr if decrypt else 0])
    values = [(state, round_keys[nr if decrypt else 0])]
    for r in range(1, nr + 1):
        round_key = round_keys[nr - r if decrypt else r]
        if decrypt:
            state = bytes(golden.INV_SBOX[b] for b in shift(state, -1))
            state = xor(state, round_key)
            if r < nr:
                state = _mix(state, _INV_MIX)
        else:
            state = shift(bytes(golden.SBOX[b] for b in state), +1)
            if r < nr:
                state = _mix(state, _MIX)
            state = xor(state, round_key)
        values.append((state, round_key))
    return [(golden.to_bus(st), golden.to_bus(k)) for st, k in values]


def _pipeline_invariants(m, spec, probe):
    """Every valid stage that carries the mark holds the vector's intermediate values (after
    the input stage and each round's linear stage; the S-box stages in between are covered
    by the induction depth), and every FIFO word with the mark holds the expected block."""
    core = spec.design
    which, mark = spec.which, spec.mark
    tables = [round_values(cipher_key, block, dec)
              for _, block, dec, _, cipher_key in fips197_aes128()]
    names = ["s0"] + [f"r{r}" for r in range(1, core.rounds + 1)]
    for index, stage in enumerate(names):
        valid = probe.signal(f"{stage}_valid", 1)
        side = probe.signal(f"{stage}_side")
        tag = side[len(side) - core.tag_width:]
        decrypt = side[0]
        (enc_state, enc_key), (dec_state, dec_key) = tables[0][index], tables[1][index]
        with m.If(valid & (tag == mark)):
            m.d.comb += [
                Assert(decrypt == which),
                Assert(probe.signal(f"{stage}_state", 128) == Mux(which, dec_state, enc_state)),
            ]
            if index < core.rounds:   # the last stage has no key register
                m.d.comb += Assert(probe.signal(f"{stage}_key", core.key_bits) ==
                                   Mux(which, dec_key, enc_key))
    fifo = probe.sub("out_fifo")
    # The design's own credit invariant (elaborated with platform="formal") needs these to
    # be inductive: see aes_pipeline.credit_invariants.
    m.d.comb += Assert(probe.signal("outstanding") <= core.fifo_depth)
    with m.If(~fifo.signal("r_rdy", 1)):
        m.d.comb += Assert(fifo.signal("inner_level") <= 1)
    layout = block_output_layout(core.tag_width)
    expected = Mux(which, *(v[3] for v in reversed(fips197_aes128())))
    for address in range(fifo.memory_depth("storage")):
        word = data.View(layout, fifo.memory_read("storage", C(address, 8),
                                                  label=f"fifo_word{address}"))
        with m.If(word.tag == mark):
            m.d.comb += Assert(word.block == expected)


def pipeline_spec():
    return DatapathSpec(aes_pipeline.design("bram"), invariants=_pipeline_invariants)


# The S-box tables are memories with initial contents. Left as memories they are state, and
# induction may start from a state with corrupted tables; mapped to logic they are constants.
ROMS_AS_LOGIC = ("memory_map -rom-only", "opt")


def iterative_spec():
    return DatapathSpec(aes_iterative.design(), invariants=_iterative_invariants)


def tasks():
    spr = aes_pipeline.design("bram")
    return [
        FormalTask(
            name="aes_iterative_datapath", block="AESIterative", mode="prove",
            engine="smtbmc yices", depth=13, unbounded=True,
            description="every marked block comes out as FIPS-197 C.1 says (encrypt and "
                        "decrypt), real datapath",
            spec=iterative_spec, script=ROMS_AS_LOGIC),
        FormalTask(
            name="aes_iterative_datapath_cover", block="AESIterative", mode="cover",
            engine="smtbmc yices", depth=14, unbounded=False,
            description="covers: a marked block encrypted, a marked block decrypted",
            spec=iterative_spec, script=ROMS_AS_LOGIC),
        FormalTask(
            name="aes_pipeline_datapath", block="AESPipeline", mode="prove",
            engine="smtbmc yices", depth=spr.stages_per_round + 1, unbounded=True,
            description="every marked block comes out as FIPS-197 says (encrypt C.1 and "
                        "decrypt B), real datapath",
            spec=pipeline_spec, script=ROMS_AS_LOGIC),
        FormalTask(
            name="aes_pipeline_datapath_cover", block="AESPipeline", mode="cover",
            engine="smtbmc yices", depth=spr.latency + 4, unbounded=False,
            description="covers: a marked block encrypted, a marked block decrypted",
            spec=pipeline_spec, script=ROMS_AS_LOGIC, slow=True),
    ]
