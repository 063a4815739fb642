"""Every function of :mod:`memcrypt.amaranth_private` on a small real design.

Each test exercises one helper the way the formal white-box helpers and the components'
constructors use it, so that a change in Amaranth's internals (checked against
:data:`~memcrypt.amaranth_private.AMARANTH_CHECKED`) fails here, by name, rather than as a
stale proof or a stray warning elsewhere.
"""

import gc
import warnings
from importlib.metadata import version

import pytest
from amaranth.hdl import Assert, Fragment, Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from memcrypt import amaranth_private as private

RAM_DEPTH, RAM_WIDTH = 16, 8
ROM_DEPTH, ROM_WIDTH = 8, 4


class _Design(wiring.Component):
    """A RAM with a write port and a clocked read port, a ROM with a combinational read port,
    a register assigned by one statement and an ``Assert``."""

    write_addr: In(range(RAM_DEPTH))
    write_data: In(RAM_WIDTH)
    write_en: In(1)
    read_addr: In(range(RAM_DEPTH))
    read_data: Out(RAM_WIDTH)
    rom_addr: In(range(ROM_DEPTH))
    rom_data: Out(ROM_WIDTH)

    def __init__(self):
        super().__init__()
        self.total = Signal(RAM_WIDTH + 1)
        self.statement = self.total.eq(self.write_data + self.read_data)
        self.check = Assert(self.total <= 2 * (2 ** RAM_WIDTH - 1))

    def elaborate(self, platform):
        m = Module()
        m.submodules.ram = ram = memory.Memory(shape=RAM_WIDTH, depth=RAM_DEPTH, init=[])
        m.submodules.rom = rom = memory.Memory(shape=ROM_WIDTH, depth=ROM_DEPTH,
                                               init=range(ROM_DEPTH))
        write, read = ram.write_port(), ram.read_port()
        rom_read = rom.read_port(domain="comb")
        m.d.comb += [
            write.addr.eq(self.write_addr), write.data.eq(self.write_data),
            write.en.eq(self.write_en),
            read.addr.eq(self.read_addr), self.read_data.eq(read.data),
            rom_read.addr.eq(self.rom_addr), self.rom_data.eq(rom_read.data),
        ]
        self.ram_read_data, self.rom_read_data = read.data, rom_read.data
        m.d.sync += self.statement
        m.d.comb += self.check
        return m


def _elaborate():
    design = _Design()
    fragment = Fragment.get(design, None)
    memories = {name: sub for sub, name, _ in fragment.subfragments if private.is_memory(sub)}
    return design, fragment, memories


def test_checked_against_the_installed_amaranth():
    installed = version("amaranth")
    assert installed == private.AMARANTH_CHECKED, (
        f"Amaranth {installed} is installed; memcrypt.amaranth_private was checked against "
        f"{private.AMARANTH_CHECKED}: run this file, then update AMARANTH_CHECKED")


def test_is_memory_finds_the_memories():
    _, fragment, memories = _elaborate()
    assert set(memories) == {"ram", "rom"}
    assert not private.is_memory(fragment)


def test_memory_depth_width_and_write_ports():
    _, _, memories = _elaborate()
    ram, rom = memories["ram"], memories["rom"]
    assert (private.memory_depth(ram), private.memory_width(ram)) == (RAM_DEPTH, RAM_WIDTH)
    assert (private.memory_depth(rom), private.memory_width(rom)) == (ROM_DEPTH, ROM_WIDTH)
    assert private.memory_is_written(ram) and not private.memory_is_written(rom)


def test_memory_read_data_by_port_kind():
    design, _, memories = _elaborate()
    ram, rom = memories["ram"], memories["rom"]
    assert private.memory_read_data(ram, registered=True) == [design.ram_read_data]
    assert private.memory_read_data(ram, registered=False) == []
    assert private.memory_read_data(rom, registered=False) == [design.rom_read_data]
    assert private.memory_read_data(rom, registered=True) == []


def test_an_added_read_port_reads_what_was_written():
    design, fragment, memories = _elaborate()
    peek_addr, peek_data = Signal(range(RAM_DEPTH)), Signal(RAM_WIDTH)
    private.add_read_port(memories["ram"], peek_addr, peek_data)
    assert private.memory_read_data(memories["ram"], registered=False) == [peek_data]
    seen = []

    async def bench(ctx):
        ctx.set(design.write_addr, 5)
        ctx.set(design.write_data, 0xA7)
        ctx.set(design.write_en, 1)
        await ctx.tick()
        ctx.set(design.write_en, 0)
        ctx.set(peek_addr, 5)
        seen.append(ctx.get(peek_data))      # combinational: no clock edge needed
        ctx.set(peek_addr, 6)
        seen.append(ctx.get(peek_data))

    simulator = Simulator(fragment)
    simulator.add_clock(1e-6)
    simulator.add_testbench(bench)
    simulator.run()
    assert seen == [0xA7, 0]


def test_assigned_and_used_signals_of_a_statement():
    design = _Design()
    _ = Fragment.get(design, None)
    assigned = list(private.assigned_signals(design.statement))
    used = list(private.used_signals(design.statement))
    assert len(assigned) == 1 and assigned[0] is design.total
    assert len(used) == 3
    assert all(any(s is signal for s in used)
               for signal in (design.total, design.write_data, design.read_data))


def test_property_is_the_class_of_an_assert():
    design, fragment, _ = _elaborate()
    found = [statement for statements in fragment.statements.values()
             for statement in statements if isinstance(statement, private.Property)]
    assert found == [design.check]
    assert found[0].kind == private.Property.Kind.Assert


class _Rejecting(wiring.Component):
    """Refuses a negative ``size``, marking itself first when ``mark`` is set."""

    value: Out(8)

    def __init__(self, size, *, mark=True):
        super().__init__()
        if size < 0:
            if mark:
                private.reject_construction(self)
            raise ValueError(f"size must be non-negative, not {size}")

    def elaborate(self, platform):
        return Module()


def _warnings_of_rejected(mark):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="size must be non-negative"):
            _Rejecting(-1, mark=mark)
        gc.collect()
    return [str(warning.message) for warning in caught]


def test_port_directions_name_the_ports_of_a_converted_top():
    from amaranth.back import rtlil  # noqa: PLC0415

    m = Module()
    a, y = Signal(4), Signal(4)
    m.d.comb += y.eq(a + 1)
    text = rtlil.convert(m, name="top", ports={"s_in": (a, private.PortDirection.Input),
                                               "s_out": (y, private.PortDirection.Output)})
    wires = [line.split() for line in text.splitlines() if line.strip().startswith("wire")]
    assert ["wire", "width", "4", "input", "0", "\\s_in"] in wires
    assert ["wire", "width", "4", "output", "1", "\\s_out"] in wires


def test_a_rejected_component_does_not_also_warn_it_was_unused():
    assert _warnings_of_rejected(mark=True) == []
    # The test can tell: without the mark, Amaranth warns when the half-built one is collected.
    unmarked = _warnings_of_rejected(mark=False)
    assert len(unmarked) == 1 and "created but never used" in unmarked[0]
