"""Formal specification of :class:`memcrypt.gateware.aes.AESIterative` (one round per clock).

``aes_iterative_stream`` -- the stream contract (:mod:`.stream_contract`): handshake, nothing
from nothing, capacity 1, and order / tag-with-block by a marked block. **Unbounded**
(k-induction, smtbmc + yices, induction depth 2).

``aes_iterative_stream_cover`` -- covers of the same specification, **bounded** (depth 16):
a block goes in and comes out, the marked block comes out, the output stalls with valid
high, the input stalls because the core is busy, a block goes in as another leaves.

The AES datapath is cut: the round function's results (``middle_round``, ``last_round``) are
replaced by free values (yosys ``cutpoint``), which removes the S-boxes from the problem.
Every behaviour of the real core is a behaviour of the cut one (the real values are one
choice of the free ones), so a safety property proven on the cut core holds on the real
core. The state register itself is kept, so "payload stable while stalled" is proven on the
real hold logic. What the cut gives up -- that the block delivered *is* the AES of the block
that came in -- is :mod:`.aes_datapath`'s subject.

Inductive invariants (white-box, asserted): the core is never both ``busy`` and ``done``;
the specification's count of held blocks is ``busy + done``; a busy core's round index is
in ``1..Nr``; the tag register holds the mark exactly while the marked block is inside.
"""

from amaranth.hdl import Assert

from memcrypt.flow.formal import FormalTask
from memcrypt.gateware.aes import AESIterative

from .stream_contract import StreamContractSpec

__all__ = ["TAG_WIDTH", "design", "invariants", "spec", "CUT", "tasks"]

TAG_WIDTH = 2
CUT = (
    "select -assert-count 1 w:dut.middle_round",
    "select -assert-count 1 w:dut.last_round",
    "cutpoint w:dut.middle_round w:dut.last_round",
    "opt_clean",
)


def design():
    return AESIterative(key_bits=128, direction="both", tag_width=TAG_WIDTH)


def invariants(m, spec, probe):
    core = spec.design
    busy = probe.signal("busy", 1)
    done = probe.signal("done", 1)
    # The tag register has no name of its own ("$signal"); the output port shows it.
    tag = core.o_stream.payload.tag
    round_index = probe.signal("round_index")
    m.d.comb += [
        Assert(~(busy & done)),
        Assert(spec.held == busy + done),
    ]
    with m.If(busy):
        m.d.comb += Assert((round_index >= 1) & (round_index <= core.rounds))
    with m.If(busy | done):
        m.d.comb += Assert((tag == spec.mark) == (spec.pending & (spec.ahead == 0)))


def spec():
    return StreamContractSpec(design(), capacity=1, invariants=invariants)


def tasks():
    return [
        FormalTask(
            name="aes_iterative_stream", block="AESIterative", mode="prove",
            engine="smtbmc yices", depth=2, unbounded=True,
            description="stream contract: handshake, capacity 1, no loss/dup/reorder, "
                        "tag with block (datapath cut)",
            spec=spec, script=CUT),
        FormalTask(
            name="aes_iterative_stream_cover", block="AESIterative", mode="cover",
            engine="smtbmc yices", depth=16, unbounded=False,
            description="covers: block through, marked block out, output stall, "
                        "busy stall, back-to-back",
            spec=spec, script=CUT),
    ]
