"""Deliberately broken stream cores: the stream contract must FAIL on each.

They show that :mod:`.stream_contract` and the runner can fail -- a harness that passed
everything would be indistinguishable from one that checks nothing. Each wraps a correct
:class:`~memcrypt.gateware.aes.AESIterative` (datapath cut, as in :mod:`.aes_iterative`) and breaks
one rule at its output:

* ``DropsValid`` lowers ``o_stream.valid`` every other cycle, even while the consumer has
  not taken the block (valid must hold until ready);
* ``LosesBlocks`` silently consumes every second block the core offers (the block is
  lost, and the core takes the next one while the specification counts it as held).

Both are checked black-box (no invariants) by bounded model checking, which finds the
counterexample within a block's time through the core.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring

from memcrypt.flow.formal import FormalTask

from . import aes_iterative
from .stream_contract import StreamContractSpec

__all__ = ["DropsValid", "LosesBlocks", "negative_tasks"]


class _Wrapper(wiring.Component):
    def __init__(self):
        self.core = aes_iterative.design()
        super().__init__({"i_stream": self.core.signature.members["i_stream"],
                          "o_stream": self.core.signature.members["o_stream"]})

    @property
    def tag_width(self):
        return self.core.tag_width

    def _connect(self, m):
        m.submodules.core = core = self.core
        wiring.connect(m, wiring.flipped(self.i_stream), core.i_stream)
        m.d.comb += self.o_stream.payload.eq(core.o_stream.payload)
        return core


class DropsValid(_Wrapper):
    """``o_stream.valid`` low every other cycle."""

    def elaborate(self, platform):
        m = Module()
        core = self._connect(m)
        toggle = Signal()
        m.d.sync += toggle.eq(~toggle)
        m.d.comb += [
            self.o_stream.valid.eq(core.o_stream.valid & ~toggle),
            core.o_stream.ready.eq(self.o_stream.ready & ~toggle),
        ]
        return m


class LosesBlocks(_Wrapper):
    """Every second block offered is taken from the core and thrown away."""

    def elaborate(self, platform):
        m = Module()
        core = self._connect(m)
        count = Signal()
        drop = Signal()
        m.d.comb += drop.eq(count)
        with m.If(core.o_stream.valid & core.o_stream.ready):
            m.d.sync += count.eq(count + 1)
        m.d.comb += [
            self.o_stream.valid.eq(core.o_stream.valid & ~drop),
            core.o_stream.ready.eq(self.o_stream.ready | drop),
        ]
        return m


CUT = tuple(command.replace("dut.", "dut.core.") for command in aes_iterative.CUT)


def negative_tasks():
    return [
        FormalTask(
            name="stream_mutant_drops_valid", block="DropsValid", mode="bmc",
            engine="smtbmc yices", depth=16, unbounded=False,
            description="output valid drops before ready",
            spec=lambda: StreamContractSpec(DropsValid(), capacity=1), script=CUT,
            breaks="output_valid_holds"),
        FormalTask(
            name="stream_mutant_loses_blocks", block="LosesBlocks", mode="bmc",
            engine="smtbmc yices", depth=30, unbounded=False,
            description="every second block lost",
            spec=lambda: StreamContractSpec(LosesBlocks(), capacity=1), script=CUT,
            breaks="within_capacity"),
    ]
