# amaranth: UnusedElaboratable=no
"""Formal specification of :class:`memcrypt.gateware.aes.AESPipeline` (one block per clock).

``aes_pipeline_stream`` -- the stream contract (:mod:`.stream_contract`): handshake, nothing
from nothing, capacity ``fifo_depth`` (32 for AES-128: the credit counter never lets the
output FIFO overflow), and order / tag-with-block by a marked block. **Unbounded**
(k-induction, smtbmc + yices, induction depth 2). The design's own formal-only invariant
(``outstanding == valid stages + FIFO level``, elaborated with ``platform="formal"``) and the
output FIFO's are proven along with it.

``aes_pipeline_stream_cover`` -- covers, **bounded** (depth 40): a block goes through, the
marked block comes out behind others, the output stalls with valid high, the core fills
(32 blocks held) so that the input stalls, a block goes in as another leaves.

The AES datapath is cut at its last stage (``r10b_state``, the block written into the output
FIFO, becomes a free value each cycle), which removes all of AES from the problem. This is
an over-approximation: every behaviour of the real core is one of the cut core's, so the
safety properties proven here hold for the real core. The FIFO and the output register are
kept, so the payload-stability check covers the block bits too. That the block delivered
with a tag is the AES of the block that came in with it is :mod:`.aes_datapath`'s subject.

Inductive invariants (white-box, asserted, never assumed): the specification's count of
held blocks equals the credit counter ``outstanding``; in every valid pipeline stage and in
every occupied FIFO word, the tag is the mark exactly when the marked block is pending and
the blocks ahead of that position (later valid stages, FIFO words before it, the output
register) are the ones the specification counts ahead of the marked block.
"""

from amaranth.hdl import Assert, C, Cat, Mux, Signal
from amaranth.lib import data

from memcrypt.flow.formal import FormalTask
from memcrypt.gateware.aes import AESPipeline, block_output_layout

from .stream_contract import StreamContractSpec

__all__ = ["TAG_WIDTH", "design", "stages", "cut", "credit_invariants", "invariants", "spec",
           "tasks"]

BMC_DEPTH = 40
COVER_DEPTH = 70

TAG_WIDTH = 2


def design(sbox="bram"):
    """AES-128, both directions. ``"bram"`` is the default core (three stages per round,
    latency 32, 64 blocks of credit); ``"lut"`` the smaller one (two stages per round,
    latency 22, 32 blocks)."""
    return AESPipeline(key_bits=128, direction="both", tag_width=TAG_WIDTH, sbox=sbox)


def stages(core):
    """The pipeline's register stages, input first: ``s0``, then per round the S-box
    stage(s) ``r<n>a`` (``r<n>b``) and the linear stage ``r<n>``."""
    extra = "abc"[:getattr(core, "stages_per_round", 2) - 1]
    return ["s0"] + [name for r in range(1, core.rounds + 1)
                     for name in [*(f"r{r}{x}" for x in extra), f"r{r}"]]


def cut(core):
    """Yosys commands that replace the block entering the output FIFO with a free value."""
    wire = f"w:dut.{stages(core)[-1]}_state"
    return (f"select -assert-count 1 {wire}", f"cutpoint {wire}", "opt_clean")


def _stage_tag(probe, stage):
    """The tag register of pipeline stage ``stage``: the last field of its sideband
    (``decrypt``, ``tag``). A wrong guess fails the proof; it cannot pass it."""
    side = probe.signal(f"{stage}_side")
    if len(side) < TAG_WIDTH:
        raise ValueError(f"Sideband {stage}_side is {len(side)} bits, narrower than the tag")
    return side[len(side) - TAG_WIDTH:]


def credit_invariants(m, spec, probe):
    """The specification's count of held blocks is the core's credit counter."""
    m.d.comb += Assert(spec.held == probe.signal("outstanding"))
    fifo = probe.sub("out_fifo")
    # The FIFO's output register is refilled the cycle after it empties, so an empty
    # register with more than one word behind it is unreachable. (Without this, induction
    # finds a state where a full FIFO drops a write and the credit count goes wrong.)
    with m.If(~fifo.signal("r_rdy", 1)):
        m.d.comb += Assert(fifo.signal("inner_level") <= 1)


def invariants(m, spec, probe):
    """:func:`credit_invariants`, and where the marked block is."""
    credit_invariants(m, spec, probe)
    core = spec.design
    mark, pending, ahead = spec.mark, spec.pending, spec.ahead

    def at(position):
        return pending & (ahead == position)

    fifo = probe.sub("out_fifo")
    r_rdy = fifo.signal("r_rdy", 1)
    inner_level = fifo.signal("inner_level")
    consume = fifo.signal("consume")
    word_layout = block_output_layout(TAG_WIDTH)

    # Where the marked block is: a place (FIFO word, pipeline stage) holds the mark only if
    # the marked block is pending with exactly the blocks ahead of that place ahead of it;
    # and a pending marked block is somewhere. (The output register is the contract's own
    # check.) Positions: the output register is 0, the FIFO's words follow it, and every
    # valid stage has the valid stages after it and the whole FIFO ahead of it.
    places = [r_rdy & (core.o_stream.payload.tag == mark)]

    # The FIFO's memory in queue order: word i is the (i+1)-th behind the output register.
    # (Reading it in queue order rather than by address keeps positions constant, which
    # makes the solver's work several times lighter.)
    depth = fifo.memory_depth("storage")
    for i in range(depth):
        address = Signal(range(depth), name=f"queue{i}_address")
        m.d.comb += address.eq(Mux(consume + i >= depth, consume + i - depth, consume + i))
        word = data.View(word_layout, fifo.memory_read("storage", address, label=f"queue{i}"))
        marked = Signal(name=f"queue{i}_marked")
        m.d.comb += marked.eq((i < inner_level) & (word.tag == mark))
        with m.If(marked):
            m.d.comb += Assert(at(r_rdy + i))
        places.append(marked)

    # Pipeline stages: a valid stage has all held blocks ahead of it except itself and the
    # valid stages before it (counted from the input, so that the FIFO's comings and goings
    # do not enter a stage's position). Each count is kept to the width of the count.
    before = C(0, 1)
    for stage in stages(core):
        valid = probe.signal(f"{stage}_valid", 1)
        marked = Signal(name=f"{stage}_marked")
        m.d.comb += marked.eq(valid & (_stage_tag(probe, stage) == mark))
        with m.If(marked):
            m.d.comb += Assert(at(spec.held - 1 - before))
        places.append(marked)
        count = Signal.like(spec.held, name=f"valid_up_to_{stage}")
        m.d.comb += count.eq(before + valid)
        before = count

    with m.If(pending):
        m.d.comb += Assert(Cat(*places).any())


def spec(sbox="bram"):
    core = design(sbox)
    return StreamContractSpec(core, capacity=core.fifo_depth, invariants=invariants)


def black_box_spec():
    core = design()
    return StreamContractSpec(core, capacity=core.fifo_depth)


def credit_spec():
    core = design()
    return StreamContractSpec(core, capacity=core.fifo_depth, invariants=credit_invariants,
                              order=False)


def tasks():
    bram, lut = design("bram"), design("lut")
    return [
        FormalTask(
            name="aes_pipeline_credit", block="AESPipeline", mode="prove",
            engine="smtbmc yices", depth=1, unbounded=True,
            description=f"handshake, nothing from nothing, capacity {bram.fifo_depth} "
                        f"(credit counter, output FIFO never overflows)",
            spec=credit_spec, script=cut(bram)),
        FormalTask(
            name="aes_pipeline_stream_bmc", block="AESPipeline", mode="bmc",
            engine="smtbmc yices", depth=BMC_DEPTH, unbounded=False,
            description="whole stream contract incl. no loss/dup/reorder, black box "
                        "(datapath cut)",
            spec=black_box_spec, script=cut(bram)),
        FormalTask(
            name="aes_pipeline_stream_cover", block="AESPipeline", mode="cover",
            engine="smtbmc yices", depth=COVER_DEPTH, unbounded=False,
            description="covers: block through, marked block behind others, output stall, "
                        "core full so input stalls, back-to-back",
            spec=black_box_spec, script=cut(bram)),
        FormalTask(
            name="aes_pipeline_lut_stream", block="AESPipeline(sbox=lut)", mode="prove",
            engine="smtbmc yices", depth=1, unbounded=True,
            description=f"whole stream contract incl. order, capacity {lut.fifo_depth} "
                        f"(datapath cut)",
            spec=lambda: spec("lut"), script=cut(lut), slow=True, timeout=1200),
        FormalTask(
            name="aes_pipeline_stream", block="AESPipeline", mode="prove",
            engine="smtbmc yices", depth=1, unbounded=True,
            description=f"whole stream contract incl. order, capacity {bram.fifo_depth} "
                        f"(datapath cut)",
            spec=spec, script=cut(bram), slow=True, timeout=3600),
    ]
