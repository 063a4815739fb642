"""Every use memcrypt makes of Amaranth's private API, in one place.

Amaranth documents no way to do these few things, so they reach into its internals; each
is checked against **Amaranth 0.5.10** (the version ``pyproject.toml`` pins), and
``tests/test_amaranth_private.py`` exercises every function here so that a change in
Amaranth fails that test by name instead of breaking a proof or a warning filter quietly.

* :func:`reject_construction`: a component whose constructor refuses its parameters is
  half-built and never elaborated; Amaranth would warn ``UnusedElaboratable`` when it is
  collected, on top of the error the user already got. (Objects built in tests only for
  their properties need no such call: those files carry the documented modeline
  ``# amaranth: UnusedElaboratable=no``.)
* The formal white-box helpers read an elaborated design's registers and memories: the
  signals a statement assigns and reads, a memory instance's ports, depth and shape, and a
  combinational read port added to a memory for a proof.
* :data:`Property`: the class of ``Assert``/``Assume``/``Cover`` statements, to count the
  properties a specification states.
* :data:`PortDirection`: the direction of a named port given to ``rtlil.convert(...,
  ports={name: (signal, direction)})``, with which generated tops get their flat names.
"""

from amaranth.hdl import C, Shape
from amaranth.hdl._ast import Property
from amaranth.hdl._ir import PortDirection
from amaranth.hdl._mem import MemoryInstance

__all__ = ["AMARANTH_CHECKED", "reject_construction", "Property", "PortDirection", "is_memory",
           "memory_depth", "memory_width", "memory_is_written", "memory_read_data",
           "add_read_port", "assigned_signals", "used_signals"]

AMARANTH_CHECKED = "0.5.10"


def reject_construction(elaboratable):
    """Mark ``elaboratable``, whose constructor is about to raise, as never to be used, so
    that Amaranth does not also warn that it was created and not elaborated."""
    elaboratable._MustUse__silence = True


def is_memory(fragment):
    """Whether an elaborated fragment is a memory (``amaranth.lib.memory.Memory``)."""
    return isinstance(fragment, MemoryInstance)


def memory_depth(memory):
    return memory._data.depth


def memory_width(memory):
    return Shape.cast(memory._data.shape).width


def memory_is_written(memory):
    """Whether the memory has a write port (a ROM has none)."""
    return bool(memory._write_ports)


def memory_read_data(memory, *, registered):
    """The data signals of the memory's read ports, in port order: the clocked ones if
    ``registered``, else the combinational ones."""
    return [port._data for port in memory._read_ports
            if (port._domain != "comb") == registered]


def add_read_port(memory, address, data):
    """Add a combinational read port to ``memory``, reading ``address`` into ``data``. A read
    port changes neither the contents nor the other ports, so the design behaves the same."""
    memory.read_port(domain="comb", addr=address, data=data, en=C(1, 1), transparent_for=())


def assigned_signals(statement):
    """The signals a statement assigns."""
    return statement._lhs_signals()


def used_signals(statement):
    """The signals a statement assigns or reads."""
    return statement._lhs_signals() | statement._rhs_signals()
