"""The control interface: key programming (PCONFIG-style), fault log, interrupts, counters.

Software programs a KeyID's keys the way Intel's PCONFIG leaf ``MKTME_KEY_PROGRAM`` does
(see :mod:`memcrypt.regmap` for the registers and the references): it writes KEYID,
KEYID_CTRL (command and algorithm) and the two key fields, rings DOORBELL, and polls STATUS
until BUSY falls; CODE then holds Intel's status code. memcrypt goes beyond Intel in one
place: before a KeyID's key or mode changes, the controller retires that KeyID's cache
lines in hardware (the ``retire`` handshake, answered by the cache), so software never
flushes by hand.

Command sequence (``STATUS`` reads ``DEVICE_BUSY`` from the doorbell to the end)::

    doorbell -> check ---------------------------------------------> finish (error code)
                  |-- SET_KEY_RANDOM: entropy words (each within entropy_timeout cycles,
                  |                   else ENTROPY_ERROR), key = software ^ hardware
                  |-- SET_KEY_*, LOAD_PLATFORM_KEY: key schedule -> decryption start key
                  '-> retire the KeyID (or all KeyIDs for the platform key)
                      -> write the key table -> finish (PROG_SUCCESS)

Checks, in order: the command (INVALID_PROG_CMD: unknown, or LOAD_PLATFORM_KEY in a build
without it or a second time), the KeyID (INVALID_KEYID: not programmable -- the platform
KeyID, KeyID 0 in every build, or at or above ``num_keys``), the algorithm
(INVALID_ENC_ALG: SET_KEY_* and LOAD_PLATFORM_KEY need exactly one supported bit; the
platform key's must be the platform key size).

No key material outlives a command: when one finishes, successfully or not, the key
fields, the decryption start key and the key-schedule unit's key are zero (and the bus
target keeps no write data once a write is answered), so that between commands keys live
only in the key table and its platform-key register. ``formal/control.py`` proves it.

At reset the key table sweeps its entries back to the platform key and the platform key is
drawn from the entropy input (``2 * key_bits / 32`` words, waiting as long as it
takes): STATUS reads DEVICE_BUSY with READY low until both are done.

Key material only moves from the key-field registers to the key table (and the key-schedule
unit between them). The read-data multiplexer is built from the readable registers of the
register map alone; the key fields and the table are not among its inputs, and
``formal/control.py`` proves that what is read never depends on key material.

A doorbell, or a write to KEYID, KEYID_CTRL or a key field, while BUSY is ignored and sets
STATUS.IGNORED.

The elaborate is split by what each part does: :meth:`KeyControl.fault_log`,
:meth:`KeyControl.performance_counters`, :meth:`KeyControl.interrupts`,
:meth:`KeyControl.register_file` and :meth:`KeyControl.command_sequencer`. Every register
word is a view of :func:`register_layout`, so its fields are set by the names
:mod:`memcrypt.regmap` gives them.
"""

from amaranth.hdl import C, Cat, Const, Module, Mux, Shape, Signal, Value, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..amaranth_private import reject_construction
from ..config import MemcryptConfig, require_config
from ..regmap import (
    ADDR_WIDTH,
    FIELD_ENUMS,
    KEY_FIELD_WORDS,
    NO_BLOCKS,
    PERF_EVENTS,
    Access,
    Algorithm,
    Block,
    Command,
    FaultKind,
    FaultSource,
    KeyMode,
    Register,
    Status,
    register_map,
)
from .aes import KeyScheduleUnit
from .axil import AXI4LiteTarget
from .interfaces import (
    AXI4LiteSignature,
    EntropySignature,
    FaultRecord,
    FaultSignature,
    KeyEntry,
    KeyLookupSignature,
    MaintDone,
    MaintOp,
    MaintRequest,
    PerfEventsSignature,
    RetireSignature,
)
from .keytable import KeyTable

__all__ = ["register_layout", "KeyControl"]

_FIELD_BITS = 32 * KEY_FIELD_WORDS


def register_layout(register: Register) -> data.FlexibleLayout:
    """The 32-bit word of ``register`` as a layout: one field per field of the register map,
    named in lower case, at its bits; an enumerated field (:data:`memcrypt.regmap.FIELD_ENUMS`)
    has its enumeration as its shape. Bits outside every field are reserved: no register
    of :class:`KeyControl` ever sets them."""
    fields = {}
    for field in register.fields:
        shape = FIELD_ENUMS.get((register.name, field.name), unsigned(field.width))
        if Shape.cast(shape).width != field.width:
            raise ValueError(f"{register.name}.{field.name} is {field.width} bits wide, its "
                             f"shape {shape!r} is not")
        fields[field.name.lower()] = data.Field(shape, field.lsb)
    return data.FlexibleLayout(32, fields)


def _strobed(old, wdata, wstrb):
    """``old`` with the byte lanes selected by ``wstrb`` replaced from ``wdata``."""
    old = Value.cast(old)
    return Cat(*[Mux(wstrb[i], wdata[8 * i:8 * i + 8], old[8 * i:8 * i + 8])
                 for i in range(len(wstrb))])


def _load_fields(register, stored, word):
    """Statements loading every field of ``register`` into ``stored`` (a view of its
    layout) from the 32-bit ``word``; reserved bits stay zero."""
    written = data.View(register_layout(register), word)
    return [stored[field.name.lower()].eq(written[field.name.lower()])
            for field in register.fields]


class _KeyProgramming:
    """The registers of a key-programming command and the command engine's state."""

    def __init__(self, config, regmap):
        self.keyid = Signal(register_layout(regmap["KEYID"]))
        self.keyid_ctrl = Signal(register_layout(regmap["KEYID_CTRL"]))
        self.field1 = Signal(_FIELD_BITS)      # KEY_FIELD_1: the data key
        self.field2 = Signal(_FIELD_BITS)      # KEY_FIELD_2: the tweak key
        self.decrypt_key = Signal(config.key_bits)
        self.status_code = Signal(Status, init=Status.DEVICE_BUSY)
        self.busy = Signal(init=1)
        self.initialised = Signal()
        self.ignored = Signal()
        self.platform_loaded = Signal()
        self.doorbell = Signal()               # DOORBELL.GO written, this cycle
        self.command_register = Signal()       # KEYID, KEYID_CTRL or a key field written

    def key_word(self, key_word):
        """The 32 bits of a key field that register ``key_word`` (a
        :class:`memcrypt.regmap.KeyWord`) holds."""
        field = {1: self.field1, 2: self.field2}[key_word.field]
        return field[32 * key_word.word:32 * key_word.word + 32]

    def key_material_cleared(self):
        """Statements that clear the key fields and the decryption start key."""
        return [self.field1.eq(0), self.field2.eq(0), self.decrypt_key.eq(0)]


class _FaultLog:
    """The fault log's state and its requests from the register file."""

    def __init__(self, config):
        record = FaultRecord(config)
        self.records = fifo.SyncFIFOBuffered(width=record.size, depth=config.fault_log_depth)
        self.head = data.View(record, self.records.r_data)
        self.overflow = Signal(32)
        self.bad_write = Signal(record)        # the register file's own faults, held
        self.bad_write_valid = Signal()        # for a cycle
        self.bad_read = Signal(record)
        self.bad_read_valid = Signal()
        self.pop = Signal()                    # FAULT_POP.POP written
        self.clear_overflow = Signal()         # FAULT_OVERFLOW bit 0 written
        self.logged = Signal()                 # a record went into the log
        self.lost = Signal()                   # a record found the log full


class _Counters:
    """The performance counters, their latched upper halves and their control."""

    def __init__(self):
        self.counts = {name: Signal(64, name=f"perf_{name}") for name, _doc in PERF_EVENTS}
        self.high_latches = {name: Signal(32, name=f"perf_{name}_hi")
                             for name, _doc in PERF_EVENTS}
        self.clear = Signal()                  # PERF_CTRL.CLEAR written
        self.keys_programmed = Signal()        # a command succeeded


class _Interrupts:
    """IRQ_STATUS, IRQ_ENABLE, and the causes raised and cleared in a cycle."""

    def __init__(self, regmap):
        layout = register_layout(regmap["IRQ_STATUS"])
        self.status = Signal(layout, name="irq_status")
        self.enable = Signal(register_layout(regmap["IRQ_ENABLE"]), name="irq_enable")
        self.raised = Signal(layout, name="irq_set")
        self.cleared = Signal(32, name="irq_clear")


class _Flush:
    """The flush registers (FLUSH_*) and the operation they start on the cache's
    ``maint`` stream."""

    def __init__(self, regmap):
        self.start = Signal(64, name="flush_start")
        self.end = Signal(64, name="flush_end")
        self.status = Signal(register_layout(regmap["FLUSH_STATUS"]), name="flush_status")
        self.requested = Signal(name="flush_requested")    # offered on ``maint``
        self.range = Signal(name="flush_range")            # FLUSH_CTRL.RANGE written
        self.all = Signal(name="flush_all")                # FLUSH_CTRL.ALL written
        self.op = Signal(MaintOp, name="flush_op")


def maint_done_layout(config):
    """The cache's maintenance completion for the cache geometry of ``config``."""
    return MaintDone(ceil_log2(config.cache_ways * config.cache_sets + 1))


class KeyControl(wiring.Component):
    """The control interface with the key table behind it.

    Parameters
    ----------
    config : MemcryptConfig
    blocks : memcrypt.regmap.Block
        The blocks the build contains beside this one (the top that instantiates it says
        which); CAP_BLOCKS reads them. Default: none.

    Members
    -------
    s_axil : In(AXI4LiteSignature(addr_width=12, data_width=32))
        The registers of :func:`memcrypt.regmap.register_map` (:mod:`memcrypt.gateware.axil`).
    entropy : In(EntropySignature())
        Hardware entropy (a TRNG on a board, the testbench in simulation), one 32-bit word
        per handshake.
    retire : Out(RetireSignature(keyid_bits=config.keyid_bits))
        "Write back and invalidate every cache line of ``retire.keyid``" (or, with
        ``retire.all``, of every KeyID: the platform key changes), held until
        ``retire.done``.
    fault : In(FaultSignature(config))
        Faults from the data path (invalid KeyID, out of range, DMA mask, memory error),
        logged one per handshake; ``fault.ready`` is low only while the control interface
        logs one of its own. A fault that finds the log full is counted in FAULT_OVERFLOW.
    events : In(PerfEventsSignature())
        The performance counters' event strobes (``events.cache``: the key-tagged cache's);
        ``keys_programmed`` is counted inside.
    irq : Out(1)
        ``(IRQ_STATUS & IRQ_ENABLE) != 0``.
    lookup : In(KeyLookupSignature(config))
        The key table's lookup port (:class:`memcrypt.gateware.keytable.KeyTable`,
        latency 3).
    ready : Out(1)
        The table is initialised and the platform key drawn.
    maint : Out(stream.Signature(MaintRequest(config)))
        Builds with ``Block.CACHE`` only: the flush FLUSH_CTRL starts (FLUSH_RANGE of the
        line addresses of [FLUSH_START, FLUSH_END), or FLUSH_ALL).
    maint_done : In(stream.Signature(maint_done_layout(config)))
        Builds with ``Block.CACHE`` only: its completion (memory has answered every
        write-back), with the lines invalidated.

    Raises
    ------
    TypeError
        ``config`` is not a :class:`~memcrypt.config.MemcryptConfig`, or ``blocks`` not a
        :class:`~memcrypt.regmap.Block`.
    """

    def __init__(self, config: MemcryptConfig, *, blocks: Block = NO_BLOCKS):
        self._config = require_config(self, config)
        if not isinstance(blocks, Block):
            reject_construction(self)
            raise TypeError(f"blocks must be a memcrypt.regmap.Block flag, not {blocks!r}")
        self._blocks = blocks
        self._regmap = register_map(config, blocks)
        maintenance = {}
        if Block.CACHE in blocks:
            maintenance = {
                "maint": Out(stream.Signature(MaintRequest(config))),
                "maint_done": In(stream.Signature(maint_done_layout(config))),
            }
        super().__init__({
            "s_axil": In(AXI4LiteSignature(addr_width=ADDR_WIDTH, data_width=32)),
            "entropy": In(EntropySignature()),
            "retire": Out(RetireSignature(keyid_bits=config.keyid_bits)),
            "fault": In(FaultSignature(config)),
            "events": In(PerfEventsSignature()),
            "irq": Out(1),
            "lookup": In(KeyLookupSignature(config)),
            "ready": Out(1),
            **maintenance,
        })

    @property
    def config(self):
        return self._config

    @property
    def blocks(self):
        return self._blocks

    @property
    def regmap(self):
        return self._regmap

    def elaborate(self, platform):
        m = Module()
        config = self._config

        m.submodules.bus = bus = AXI4LiteTarget(addr_width=ADDR_WIDTH, data_width=32)
        wiring.connect(m, wiring.flipped(self.s_axil), bus.s_axil)
        m.submodules.table = table = KeyTable(config)
        wiring.connect(m, wiring.flipped(self.lookup), table.lookup)

        program = _KeyProgramming(config, self._regmap)
        log = self.fault_log(m)
        counters = self.performance_counters(m)
        interrupts = self.interrupts(m, log)
        flush = self.flush(m, interrupts) if Block.CACHE in self._blocks else None
        self.register_file(m, bus.reg, program, log, counters, interrupts, flush)
        self.command_sequencer(m, program, table, counters, interrupts)
        m.d.comb += self.ready.eq(program.initialised)
        return m

    # -- the fault log ----------------------------------------------------------------------

    def fault_log(self, m):
        """The fault log: records from ``fault`` and the register file's bad accesses (a
        bad write, then a bad read, before the data path's), oldest first; a record that
        finds the log full is counted in FAULT_OVERFLOW (saturating)."""
        log = _FaultLog(self._config)
        m.submodules.fault_log = records = log.records
        logged = Signal.like(log.bad_write)
        log_now = Signal()
        m.d.comb += self.fault.ready.eq(~log.bad_write_valid & ~log.bad_read_valid)
        with m.If(log.bad_write_valid):
            m.d.comb += [logged.eq(log.bad_write), log_now.eq(1)]
            m.d.sync += log.bad_write_valid.eq(0)
        with m.Elif(log.bad_read_valid):
            m.d.comb += [logged.eq(log.bad_read), log_now.eq(1)]
            m.d.sync += log.bad_read_valid.eq(0)
        with m.Elif(self.fault.valid):
            m.d.comb += [logged.eq(self.fault.record), log_now.eq(1)]
        m.d.comb += [
            records.w_data.eq(logged),
            records.w_en.eq(log_now),
            records.r_en.eq(log.pop),
            log.logged.eq(log_now & records.w_rdy),
            log.lost.eq(log_now & ~records.w_rdy),
        ]
        with m.If(log.clear_overflow):
            m.d.sync += log.overflow.eq(0)
        with m.If(log.lost & (log.overflow != 0xFFFF_FFFF)):
            m.d.sync += log.overflow.eq(log.overflow + 1)
        return log

    # -- the performance counters -----------------------------------------------------------

    def performance_counters(self, m):
        """One 64-bit counter per :data:`memcrypt.regmap.PERF_EVENTS` event, counting its
        strobe of ``events`` (``keys_programmed``: the commands that succeed)."""
        counters = _Counters()
        for name, count in counters.counts.items():
            if name == "keys_programmed":
                event = counters.keys_programmed
            else:
                event = PerfEventsSignature.strobe(self.events, name)
            with m.If(counters.clear):
                m.d.sync += count.eq(0)
            with m.Elif(event):
                m.d.sync += count.eq(count + 1)
        return counters

    # -- the interrupt ------------------------------------------------------------------------

    def interrupts(self, m, log):
        """IRQ_STATUS collects the causes (set by hardware, cleared by writing 1); ``irq``
        is high while an enabled cause is set. The command sequencer raises
        COMMAND_DONE."""
        irq = _Interrupts(self._regmap)
        m.d.comb += [
            irq.raised.fault.eq(log.logged),
            irq.raised.fault_overflow.eq(log.lost),
            self.irq.eq((irq.status.as_value() & irq.enable.as_value()).any()),
        ]
        m.d.sync += irq.status.eq((irq.status.as_value() & ~irq.cleared) |
                                  irq.raised.as_value())
        return irq

    # -- the flush registers ------------------------------------------------------------------

    def flush(self, m, irq):
        """FLUSH_CTRL starts a flush on ``maint`` unless one runs; FLUSH_STATUS follows it
        to ``maint_done``, which raises IRQ_STATUS.FLUSH_DONE. A range's ends are line
        addresses (the byte addresses without their 6 low bits), clipped to the stripped
        address space."""
        config = self._config
        flush = _Flush(self._regmap)
        line_bits = config.line_address_bits
        top = 1 << line_bits
        start_line = flush.start[6:]
        end_line = flush.end[6:]
        request = self.maint.payload
        m.d.comb += [
            self.maint.valid.eq(flush.requested),
            request.op.eq(flush.op),
            request.start.eq(Mux(start_line >= top, 0, start_line[:line_bits])),
            request.end.eq(Mux(start_line >= top, 0,
                               Mux(end_line >= top, top, end_line[:line_bits + 1]))),
            self.maint_done.ready.eq(flush.status.busy & ~flush.requested),
            irq.raised.flush_done.eq(self.maint_done.valid & self.maint_done.ready),
        ]
        with m.If(self.maint.valid & self.maint.ready):
            m.d.sync += flush.requested.eq(0)
        with m.If(self.maint_done.valid & self.maint_done.ready):
            m.d.sync += [flush.status.busy.eq(0), flush.status.done.eq(1),
                         flush.status.lines.eq(self.maint_done.payload.lines)]
        with m.If(flush.range | flush.all):
            with m.If(flush.status.busy):
                m.d.sync += flush.status.ignored.eq(1)
            with m.Else():
                m.d.sync += [
                    flush.requested.eq(1),
                    flush.op.eq(Mux(flush.all, MaintOp.FLUSH_ALL, MaintOp.FLUSH_RANGE)),
                    flush.status.busy.eq(1),
                    flush.status.done.eq(0),
                    flush.status.ignored.eq(0),
                    flush.status.lines.eq(0),
                ]
        return flush

    # -- the register file --------------------------------------------------------------------

    def register_file(self, m, reg, program, log, counters, irq, flush):
        """The registers behind the bus target's register port ``reg``: reads of every
        register of the map, the writes of RW registers, key fields and triggers, and a
        BAD_CONTROL_ACCESS fault for an offset not in the map (answered SLVERR)."""
        regmap = self._regmap
        status = Signal(register_layout(regmap["STATUS"]), name="status_word")
        info = Signal(register_layout(regmap["FAULT_INFO"]), name="fault_info_word")
        m.d.comb += [
            status.code.eq(program.status_code),
            status.busy.eq(program.busy),
            status.ready.eq(program.initialised),
            status.ignored.eq(program.ignored),
            info.keyid.eq(log.head.keyid),
            info.source.eq(log.head.source),
            info.kind.eq(log.head.kind),
            info.write.eq(log.head.write),
            info.valid.eq(log.records.r_rdy),
        ]
        present = log.records.r_rdy
        head_address = Value.cast(log.head.address)
        readable = {
            "STATUS": status,
            "KEYID": program.keyid,
            "KEYID_CTRL": program.keyid_ctrl,
            "FAULT_STATUS": log.records.level,
            "FAULT_OVERFLOW": log.overflow,
            "FAULT_ADDR_LO": Mux(present, head_address[:32], 0),
            "FAULT_ADDR_HI": Mux(present, head_address[32:], 0),
            "FAULT_INFO": Mux(present, info.as_value(), 0),
            "IRQ_STATUS": irq.status,
            "IRQ_ENABLE": irq.enable,
        }
        if flush is not None:
            readable.update({
                "FLUSH_START_LO": flush.start[:32], "FLUSH_START_HI": flush.start[32:],
                "FLUSH_END_LO": flush.end[:32], "FLUSH_END_HI": flush.end[32:],
                "FLUSH_STATUS": flush.status,
            })

        # Reads.
        r_word = reg.r_addr[2:]
        with m.Switch(r_word):
            for register in regmap:
                with m.Case(register.offset >> 2):
                    if register.access in (Access.WO, Access.WT):
                        m.d.comb += reg.r_data.eq(0)    # key fields and triggers
                    elif register.counter is not None:
                        counter = register.counter
                        count = counters.counts[counter.event]
                        if counter.high:
                            m.d.comb += reg.r_data.eq(counters.high_latches[counter.event])
                        else:
                            m.d.comb += reg.r_data.eq(count[:32])
                            with m.If(reg.r_en):
                                m.d.sync += counters.high_latches[counter.event].eq(
                                    count[32:])
                    elif register.name in readable:
                        m.d.comb += reg.r_data.eq(readable[register.name])
                    elif register.reserved_for and not register.reserved_for & self._blocks:
                        m.d.comb += reg.r_data.eq(0)      # a block this build lacks
                    else:
                        if register.access != Access.RO:
                            raise AssertionError(f"{register.name} has no read value")
                        m.d.comb += reg.r_data.eq(Const(register.reset, 32))
            with m.Default():
                m.d.comb += reg.r_error.eq(1)
        with m.If(reg.r_en & reg.r_error):
            m.d.sync += self._bad_access(log.bad_read, log.bad_read_valid, reg.r_addr,
                                         write=False)

        # Writes.
        w_word = reg.w_addr[2:]
        wdata, wstrb = reg.w_data, reg.w_strb

        def written(register, field):
            """The single-bit ``field`` of ``register`` is written with 1."""
            bit = register.field(field).lsb
            return wstrb[bit // 8] & wdata[bit]

        with m.If(reg.w_en):
            with m.Switch(w_word):
                for register in regmap:
                    with m.Case(register.offset >> 2):
                        name = register.name
                        if register.key_word is not None:
                            m.d.comb += program.command_register.eq(1)
                            word = program.key_word(register.key_word)
                            with m.If(~program.busy):
                                m.d.sync += word.eq(_strobed(word, wdata, wstrb))
                        elif name in ("KEYID", "KEYID_CTRL"):
                            m.d.comb += program.command_register.eq(1)
                            stored = program.keyid if name == "KEYID" else program.keyid_ctrl
                            with m.If(~program.busy):
                                m.d.sync += _load_fields(register, stored,
                                                         _strobed(stored, wdata, wstrb))
                        elif name == "DOORBELL":
                            m.d.comb += program.doorbell.eq(written(register, "GO"))
                        elif name == "FAULT_OVERFLOW":
                            m.d.comb += log.clear_overflow.eq(wstrb[0] & wdata[0])
                        elif name == "FAULT_POP":
                            m.d.comb += log.pop.eq(written(register, "POP"))
                        elif name == "IRQ_STATUS":
                            m.d.comb += irq.cleared.eq(_strobed(0, wdata, wstrb))
                        elif name == "IRQ_ENABLE":
                            m.d.sync += _load_fields(register, irq.enable,
                                                     _strobed(irq.enable, wdata, wstrb))
                        elif name == "PERF_CTRL":
                            m.d.comb += counters.clear.eq(written(register, "CLEAR"))
                        elif flush is not None and name.startswith("FLUSH_"):
                            self._flush_write(m, flush, register, wdata, wstrb, written)
                        # Read-only registers: the write is ignored (OKAY).
                with m.Default():
                    m.d.comb += reg.w_error.eq(1)
                    m.d.sync += self._bad_access(log.bad_write, log.bad_write_valid,
                                                 reg.w_addr, write=True)

    @staticmethod
    def _flush_write(m, flush, register, wdata, wstrb, written):
        """A write to one of the FLUSH_* registers."""
        name = register.name
        if name == "FLUSH_CTRL":
            m.d.comb += [flush.range.eq(written(register, "RANGE")),
                         flush.all.eq(written(register, "ALL"))]
            return
        if name == "FLUSH_STATUS":
            return                                         # read-only
        value = flush.start if name.startswith("FLUSH_START") else flush.end
        half = value[32:] if name.endswith("_HI") else value[:32]
        m.d.sync += half.eq(_strobed(half, wdata, wstrb))

    @staticmethod
    def _bad_access(record, valid, address, *, write):
        """Statements that hold a BAD_CONTROL_ACCESS fault for the log."""
        return [
            valid.eq(1),
            record.address.eq(address),
            record.source.eq(FaultSource.CONTROL),
            record.kind.eq(FaultKind.BAD_CONTROL_ACCESS),
            record.write.eq(write),
        ]

    # -- the command sequencer ----------------------------------------------------------------

    def key_material_cleared(self, program):
        """Statements run as a command (or the reset-time platform key draw) finishes, so
        that no key material stays outside the key table (the key-schedule units clear
        their own key as it is taken)."""
        return program.key_material_cleared()

    def command_sequencer(self, m, program, table, counters, irq):
        """The command engine: reset-time platform key, then each doorbell's command
        (check, entropy, key schedule, retirement, table write, finish)."""
        config = self._config
        schedulers = {}
        for key_bits in config.key_sizes:
            schedulers[key_bits] = KeyScheduleUnit(key_bits=key_bits)
            m.submodules[f"key_schedule_{key_bits}"] = schedulers[key_bits]

        command = program.keyid_ctrl.command
        algorithm = program.keyid_ctrl.enc_alg
        keyid = program.keyid.keyid
        field1, field2, decrypt_key = program.field1, program.field2, program.decrypt_key
        field1_words = [field1[32 * i:32 * i + 32] for i in range(KEY_FIELD_WORDS)]
        field2_words = [field2[32 * i:32 * i + 32] for i in range(KEY_FIELD_WORDS)]
        done_event = Signal()
        m.d.comb += irq.raised.command_done.eq(done_event)

        is_256 = Signal()       # the command's key size
        m.d.comb += is_256.eq(algorithm == Algorithm.AES_XTS_256)
        words_per_key = Mux(is_256, 8, 4)
        entropy_index = Signal(range(2 * KEY_FIELD_WORDS + 1))
        waited = Signal(range(config.entropy_timeout + 1))
        platform_256 = config.key_bits == 256

        def key_mask(value, wide):
            """The key in ``value``, zero above its size."""
            if config.key_bits == 128:
                return value[:128]
            return Mux(wide, value[:256], value[:128])

        data_key = Signal(config.key_bits)
        tweak_key = Signal(config.key_bits)
        m.d.comb += [
            data_key.eq(key_mask(field1, is_256)),
            tweak_key.eq(key_mask(field2, is_256)),
        ]

        def xor_entropy_word(index, per_key):
            """XOR the entropy word into word ``index`` of (field 1, field 2)."""
            for i in range(KEY_FIELD_WORDS):
                with m.If(index == i):
                    m.d.sync += field1_words[i].eq(field1_words[i] ^ self.entropy.data)
                with m.If(index == per_key + i):
                    m.d.sync += field2_words[i].eq(field2_words[i] ^ self.entropy.data)

        keyid_ok = Signal()
        m.d.comb += keyid_ok.eq((keyid >= config.first_programmable_keyid) &
                                (keyid < config.num_keys))
        algorithm_ok = Signal()     # exactly one bit, of a supported algorithm
        m.d.comb += algorithm_ok.eq(Cat(*[algorithm == Algorithm.for_key_bits(key_bits)
                                          for key_bits in config.key_sizes]).any())
        is_platform = Signal()
        m.d.comb += is_platform.eq(command == Command.LOAD_PLATFORM_KEY)
        result = Signal(Status)  # the code STATUS shows when the command finishes
        new_entry = Signal(KeyEntry(config))
        sent = Signal()          # the key is in the key-schedule unit

        def finish(code):
            m.d.sync += result.eq(code)
            m.next = "FINISH"

        def schedule(wide, next_state):
            """Derive the decryption start key of field 1's key (AES-256 if ``wide``)."""
            for key_bits, unit in schedulers.items():
                selected = Signal(name=f"schedule_{key_bits}_selected")
                if len(schedulers) == 1:
                    m.d.comb += selected.eq(1)
                else:
                    m.d.comb += selected.eq(wide if key_bits == 256 else ~wide)
                m.d.comb += [
                    unit.i_stream.payload.eq(field1[:key_bits]),
                    unit.i_stream.valid.eq(selected & ~sent),
                    unit.o_stream.ready.eq(selected & sent),
                ]
                with m.If(unit.i_stream.valid & unit.i_stream.ready):
                    m.d.sync += sent.eq(1)
                with m.If(unit.o_stream.valid & unit.o_stream.ready):
                    m.d.sync += [sent.eq(0), decrypt_key.eq(unit.o_stream.payload)]
                    m.next = next_state

        with m.FSM(name="command"):
            with m.State("INIT_ENTROPY"):
                # The platform key (the largest key size): 2 * key_bits of entropy, as long
                # as it takes.
                m.d.comb += self.entropy.ready.eq(1)
                per_key = 8 if platform_256 else 4
                with m.If(self.entropy.valid):
                    xor_entropy_word(entropy_index, per_key)
                    m.d.sync += entropy_index.eq(entropy_index + 1)
                    with m.If(entropy_index == 2 * per_key - 1):
                        m.d.sync += entropy_index.eq(0)
                        m.next = "INIT_SCHEDULE"
            with m.State("INIT_SCHEDULE"):
                schedule(C(platform_256, 1), "INIT_STORE")
            with m.State("INIT_STORE"):
                with m.If(table.ready):
                    m.d.comb += [
                        table.platform_write_en.eq(1),
                        table.platform_entry.aes256.eq(platform_256),
                        table.platform_entry.data_key.eq(key_mask(field1, platform_256)),
                        table.platform_entry.tweak_key.eq(key_mask(field2, platform_256)),
                        table.platform_entry.decrypt_key.eq(decrypt_key),
                    ]
                    m.d.sync += self.key_material_cleared(program)
                    m.d.sync += [program.initialised.eq(1), program.busy.eq(0),
                                 program.status_code.eq(Status.PROG_SUCCESS)]
                    m.next = "IDLE"
            with m.State("IDLE"):
                with m.If(program.doorbell):
                    m.d.sync += [program.busy.eq(1),
                                 program.status_code.eq(Status.DEVICE_BUSY),
                                 program.ignored.eq(0)]
                    m.next = "CHECK"
            with m.State("CHECK"):
                command_ok = Signal()
                m.d.comb += command_ok.eq(command <= Command.NO_ENCRYPT)
                if config.platform_key_loadable:
                    with m.If(is_platform & ~program.platform_loaded):
                        m.d.comb += command_ok.eq(1)
                with m.If(~command_ok):
                    finish(Status.INVALID_PROG_CMD)
                with m.Elif(~is_platform & ~keyid_ok):
                    finish(Status.INVALID_KEYID)
                with m.Elif(is_platform & (algorithm !=
                                           Algorithm.for_key_bits(config.key_bits))):
                    finish(Status.INVALID_ENC_ALG)
                with m.Elif(((command == Command.SET_KEY_DIRECT) |
                             (command == Command.SET_KEY_RANDOM)) & ~algorithm_ok):
                    finish(Status.INVALID_ENC_ALG)
                with m.Elif(command == Command.SET_KEY_RANDOM):
                    m.d.sync += [entropy_index.eq(0), waited.eq(0)]
                    m.next = "ENTROPY"
                with m.Elif((command == Command.SET_KEY_DIRECT) | is_platform):
                    m.next = "SCHEDULE"
                with m.Else():
                    m.next = "RETIRE"
            with m.State("ENTROPY"):
                m.d.comb += self.entropy.ready.eq(1)
                with m.If(self.entropy.valid):
                    with m.If(is_256):
                        xor_entropy_word(entropy_index, 8)
                    with m.Else():
                        xor_entropy_word(entropy_index, 4)
                    m.d.sync += [entropy_index.eq(entropy_index + 1), waited.eq(0)]
                    with m.If(entropy_index == 2 * words_per_key - 1):
                        m.next = "SCHEDULE"
                with m.Elif(waited == config.entropy_timeout - 1):
                    finish(Status.ENTROPY_ERROR)
                with m.Else():
                    m.d.sync += waited.eq(waited + 1)
            with m.State("SCHEDULE"):
                schedule(is_256, "RETIRE")
            with m.State("RETIRE"):
                m.d.comb += [
                    self.retire.valid.eq(1),
                    self.retire.keyid.eq(keyid),
                    self.retire.all.eq(is_platform),
                ]
                with m.If(self.retire.done):
                    m.next = "WRITE"
            with m.State("WRITE"):
                with m.Switch(command):
                    with m.Case(Command.SET_KEY_DIRECT, Command.SET_KEY_RANDOM):
                        m.d.comb += [
                            new_entry.mode.eq(KeyMode.KEYED),
                            new_entry.aes256.eq(is_256),
                            new_entry.data_key.eq(data_key),
                            new_entry.tweak_key.eq(tweak_key),
                            new_entry.decrypt_key.eq(decrypt_key),
                        ]
                    with m.Case(Command.CLEAR_KEY):
                        m.d.comb += new_entry.mode.eq(KeyMode.PLATFORM)
                    with m.Case(Command.NO_ENCRYPT):
                        m.d.comb += new_entry.mode.eq(KeyMode.NO_ENCRYPT)
                with m.If(is_platform):
                    m.d.comb += [
                        table.platform_write_en.eq(1),
                        table.platform_entry.aes256.eq(platform_256),
                        table.platform_entry.data_key.eq(data_key),
                        table.platform_entry.tweak_key.eq(tweak_key),
                        table.platform_entry.decrypt_key.eq(decrypt_key),
                    ]
                    m.d.sync += program.platform_loaded.eq(1)
                with m.Else():
                    m.d.comb += [
                        table.write_en.eq(1),
                        table.write_keyid.eq(keyid),
                        table.write_entry.eq(new_entry),
                    ]
                m.d.comb += counters.keys_programmed.eq(1)
                finish(Status.PROG_SUCCESS)
            with m.State("FINISH"):
                m.d.comb += done_event.eq(1)
                m.d.sync += [program.busy.eq(0), program.status_code.eq(result)]
                m.d.sync += self.key_material_cleared(program)
                m.next = "IDLE"

        with m.If(program.busy & program.command_register & program.initialised):
            m.d.sync += program.ignored.eq(1)
        with m.If(program.busy & program.doorbell):
            m.d.sync += program.ignored.eq(1)
