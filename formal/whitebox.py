"""White-box access to an elaborated design, for the inductive invariants of a proof.

A contract is stated on a block's ports, but k-induction only closes when the proof also
knows how the block's state relates to the specification's own bookkeeping (how many blocks
the core holds, where the marked block sits). Those facts are stated here as extra
*assertions* on the design's internal registers, found by name in the elaborated fragment.

Soundness does not depend on this module: probed signals only ever appear in ``Assert``,
never in ``Assume``. An extra assertion can only make a proof harder; a wrong probe (a
renamed register, a changed layout) makes the proof FAIL or stay UNKNOWN, never PASS
falsely. A missing name raises :class:`ProbeError` at elaboration, naming what changed.

This file holds no tasks.
"""

from amaranth.hdl import Fragment, Signal
from amaranth.utils import ceil_log2

from memcrypt.amaranth_private import (
    add_read_port,
    is_memory,
    memory_depth,
    memory_width,
    used_signals,
)

__all__ = ["ProbeError", "Probe"]


class ProbeError(LookupError):
    """A register the invariants rely on is not where the specification expects it."""


class Probe:
    """Signals of one elaborated fragment (and its subfragments), looked up by name.

    Parameters
    ----------
    fragment : Fragment
        From ``Fragment.get(design, platform)``; add this same object to the specification
        as a submodule, so that the signals found here are the design's own.
    path : str
        Hierarchical name, for messages.
    """

    def __init__(self, fragment, path="dut"):
        if not isinstance(fragment, Fragment):
            raise TypeError(f"Expected an elaborated Fragment, not {fragment!r}")
        self._fragment = fragment
        self._path = path
        self._signals = None

    @property
    def fragment(self):
        return self._fragment

    def _index(self):
        if self._signals is None:
            self._signals = {}
            for statements in self._fragment.statements.values():
                for statement in statements:
                    for signal in used_signals(statement):
                        self._signals.setdefault(signal.name, {})[id(signal)] = signal
        return self._signals

    def signal(self, name, width=None):
        """The one signal called ``name`` in this fragment (not its subfragments)."""
        found = list(self._index().get(name, {}).values())
        if len(found) != 1:
            what = "no signal" if not found else f"{len(found)} signals"
            raise ProbeError(f"{self._path}: {what} named {name!r}; the formal invariants "
                             f"need it (was the RTL changed?)")
        signal = found[0]
        if width is not None and len(signal) != width:
            raise ProbeError(f"{self._path}.{name} is {len(signal)} bits wide, the formal "
                             f"invariants expect {width}")
        return signal

    def sub(self, name):
        """The probe of the subfragment (submodule) called ``name``."""
        try:
            return Probe(self._fragment.find_subfragment(name), f"{self._path}.{name}")
        except NameError:
            raise ProbeError(f"{self._path}: no submodule {name!r}") from None

    def _memory(self, name):
        memory = self._fragment.find_subfragment(name)
        if not is_memory(memory):
            raise ProbeError(f"{self._path}.{name} is not a memory")
        return memory

    def memory_read(self, name, address, *, label):
        """A word of memory submodule ``name`` at ``address`` (any expression), through an
        added combinational read port.

        A read port has no effect on the memory's contents or on its other ports, so adding
        ports leaves the design's behaviour unchanged.
        """
        memory = self._memory(name)
        word = Signal(memory_width(memory), name=label)
        add_read_port(memory, address[:ceil_log2(memory_depth(memory))], word)
        return word

    def memory_depth(self, name):
        return memory_depth(self._memory(name))
