"""The control interface: key programming (PCONFIG-style), fault log, interrupts, counters.

Software programs a KeyID's keys the way Intel's PCONFIG leaf ``MKTME_KEY_PROGRAM`` does
(see :mod:`memcrypt.regmap` for the registers and the references): it writes KEYID,
KEYID_CTRL (command and algorithm) and the two key fields, rings DOORBELL, and polls STATUS
until BUSY falls; CODE then holds Intel's status code. memcrypt goes beyond Intel in one
place: before a KeyID's key or mode changes, the controller retires that KeyID's cache
lines in hardware (the ``retire_*`` handshake, answered by the cache), so software never
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
platform key's must be the platform key size). The key fields are cleared when a command
finishes, successfully or not.

At reset the key table sweeps its entries back to the platform key and the platform key is
drawn from the entropy input (``2 * platform_key_bits / 32`` words, waiting as long as it
takes): STATUS reads DEVICE_BUSY with READY low until both are done.

Key material only moves from the key-field registers to the key table (and the key-schedule
unit between them). The read-data multiplexer is built from the readable registers of the
register map alone; the key fields and the table are not among its inputs, and
``formal/control.py`` proves that what is read never depends on key material.

A doorbell, or a write to KEYID, KEYID_CTRL or a key field, while BUSY is ignored and sets
STATUS.IGNORED.
"""

from amaranth.hdl import C, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, fifo, wiring
from amaranth.lib.wiring import In, Out

from ..config import MemcryptConfig, require_config
from ..regmap import (
    ADDR_WIDTH,
    KEY_FIELD_WORDS,
    PERF_EVENTS,
    Access,
    Algorithm,
    Command,
    FaultKind,
    FaultSource,
    KeyMode,
    Status,
    register_map,
)
from .aes import KeyScheduleUnit
from .axil import AXI4LiteTarget, axi4_lite_members
from .keytable import KeyTable, key_entry_layout

__all__ = ["fault_record_layout", "KeyControl"]

_FIELD_BITS = 32 * KEY_FIELD_WORDS


def fault_record_layout(config: MemcryptConfig) -> data.StructLayout:
    """A fault: the physical address (KeyID included), KeyID, source, kind, write."""
    return data.StructLayout({
        "address": 64,
        "keyid": 16,
        "source": 4,
        "kind": 4,
        "write": 1,
    })


def _bad_access(record, valid, address, *, write):
    """Statements that hold a BAD_CONTROL_ACCESS fault for the log."""
    return [
        valid.eq(1),
        record.address.eq(address),
        record.source.eq(FaultSource.CONTROL),
        record.kind.eq(FaultKind.BAD_CONTROL_ACCESS),
        record.write.eq(write),
    ]


def _strobed(old, wdata, wstrb):
    """``old`` with the byte lanes selected by ``wstrb`` replaced from ``wdata``."""
    return Cat(*[Mux(wstrb[i], wdata[8 * i:8 * i + 8], old[8 * i:8 * i + 8])
                 for i in range(len(wstrb))])


class KeyControl(wiring.Component):
    """The control interface with the key table behind it.

    Parameters
    ----------
    config : MemcryptConfig

    Members
    -------
    s_axil_* : AXI4-Lite target, 12-bit address, 32-bit data (:mod:`memcrypt.gateware.axil`)
        The registers of :func:`memcrypt.regmap.register_map`.
    entropy_valid : In(1), entropy_ready : Out(1), entropy_data : In(32)
        Hardware entropy (a TRNG on a board, the testbench in simulation), one 32-bit word
        per handshake.
    retire_valid : Out(1), retire_keyid : Out(keyid_bits), retire_all : Out(1)
        "Write back and invalidate every cache line of ``retire_keyid``" (or, with
        ``retire_all``, of every KeyID: the platform key changes). Held until done.
    retire_done : In(1)
        The retirement is complete (sampled while ``retire_valid``).
    fault_valid : In(1), fault_ready : Out(1), fault_record : In(fault_record_layout)
        Faults from the data path (invalid KeyID, out of range, DMA mask, memory error),
        logged one per handshake; ``fault_ready`` is low only while the control interface
        logs one of its own. A fault that finds the log full is counted in FAULT_OVERFLOW.
    events : In(len(PERF_EVENTS))
        One strobe per performance counter, in :data:`memcrypt.regmap.PERF_EVENTS` order
        (``keys_programmed`` is also counted internally).
    irq : Out(1)
        ``(IRQ_STATUS & IRQ_ENABLE) != 0``.
    lookup_valid, lookup_keyid, result_valid, result_keyid, result, result_invalid :
        The key table's lookup port (:class:`memcrypt.gateware.keytable.KeyTable`, latency 3).
    ready : Out(1)
        The table is initialised and the platform key drawn.
    """

    def __init__(self, config: MemcryptConfig):
        self._config = require_config(self, config)
        self._regmap = register_map(config)
        layout = key_entry_layout(config)
        super().__init__({
            **axi4_lite_members("s_axil", ADDR_WIDTH, 32),
            "entropy_valid": In(1),
            "entropy_ready": Out(1),
            "entropy_data": In(32),
            "retire_valid": Out(1),
            "retire_keyid": Out(config.keyid_bits),
            "retire_all": Out(1),
            "retire_done": In(1),
            "fault_valid": In(1),
            "fault_ready": Out(1),
            "fault_record": In(fault_record_layout(config)),
            "events": In(len(PERF_EVENTS)),
            "irq": Out(1),
            "lookup_valid": In(1),
            "lookup_keyid": In(config.keyid_bits),
            "result_valid": Out(1),
            "result_keyid": Out(config.keyid_bits),
            "result": Out(layout),
            "result_invalid": Out(1),
            "ready": Out(1),
        })

    @property
    def config(self):
        return self._config

    @property
    def regmap(self):
        return self._regmap

    def elaborate(self, platform):
        m = Module()
        config, regmap = self._config, self._regmap
        layout = key_entry_layout(config)

        m.submodules.bus = bus = AXI4LiteTarget(addr_width=ADDR_WIDTH, data_width=32)
        for name, member in axi4_lite_members("s_axil", ADDR_WIDTH, 32).items():
            ours, theirs = getattr(self, name), getattr(bus, name)
            m.d.comb += theirs.eq(ours) if member.flow == wiring.In else ours.eq(theirs)

        m.submodules.table = table = KeyTable(config)
        m.d.comb += [
            table.lookup_valid.eq(self.lookup_valid),
            table.lookup_keyid.eq(self.lookup_keyid),
            self.result_valid.eq(table.result_valid),
            self.result_keyid.eq(table.result_keyid),
            self.result.eq(table.result),
            self.result_invalid.eq(table.result_invalid),
        ]
        schedulers = {}
        for key_bits in config.key_sizes:
            schedulers[key_bits] = KeyScheduleUnit(key_bits=key_bits)
            m.submodules[f"key_schedule_{key_bits}"] = schedulers[key_bits]

        # -- registers -------------------------------------------------------------------
        keyid = Signal(16)
        ctrl = Signal(32)
        command = ctrl[0:8]
        algorithm = ctrl[8:24]
        field1 = Signal(_FIELD_BITS)
        field2 = Signal(_FIELD_BITS)
        decrypt_key = Signal(config.key_bits)
        status_code = Signal(8, init=Status.DEVICE_BUSY)
        busy = Signal(init=1)
        initialised = Signal()
        ignored = Signal()
        platform_loaded = Signal()
        irq_status = Signal(3)
        irq_enable = Signal(3)
        m.d.comb += [
            self.ready.eq(initialised),
            self.irq.eq((irq_status & irq_enable).any()),
        ]
        irq_set = Signal(3)
        done_event = Signal()
        programmed_event = Signal()
        m.d.comb += irq_set[0].eq(done_event)

        # -- fault log -------------------------------------------------------------------
        record_layout = fault_record_layout(config)
        m.submodules.fault_log = log = fifo.SyncFIFOBuffered(
            width=record_layout.size, depth=config.fault_log_depth)
        head = data.View(record_layout, log.r_data)
        overflow = Signal(32)
        pending_w = Signal(record_layout)
        pending_w_valid = Signal()
        pending_r = Signal(record_layout)
        pending_r_valid = Signal()
        logged = Signal(record_layout)
        log_now = Signal()
        m.d.comb += self.fault_ready.eq(~pending_w_valid & ~pending_r_valid)
        with m.If(pending_w_valid):
            m.d.comb += [logged.eq(pending_w), log_now.eq(1)]
            m.d.sync += pending_w_valid.eq(0)
        with m.Elif(pending_r_valid):
            m.d.comb += [logged.eq(pending_r), log_now.eq(1)]
            m.d.sync += pending_r_valid.eq(0)
        with m.Elif(self.fault_valid):
            m.d.comb += [logged.eq(self.fault_record), log_now.eq(1)]
        m.d.comb += [
            log.w_data.eq(logged),
            log.w_en.eq(log_now),
            irq_set[1].eq(log_now & log.w_rdy),
            irq_set[2].eq(log_now & ~log.w_rdy),
        ]
        with m.If(log_now & ~log.w_rdy & (overflow != 0xFFFF_FFFF)):
            m.d.sync += overflow.eq(overflow + 1)

        # -- performance counters ----------------------------------------------------------
        events = Signal(len(PERF_EVENTS))
        m.d.comb += events.eq(self.events)
        keys_index = [name for name, _ in PERF_EVENTS].index("keys_programmed")
        m.d.comb += events[keys_index].eq(self.events[keys_index] | programmed_event)
        counters = [Signal(64, name=f"perf_{name}") for name, _ in PERF_EVENTS]
        high_latches = [Signal(32, name=f"perf_{name}_hi") for name, _ in PERF_EVENTS]
        clear_counters = Signal()
        for counter, event in zip(counters, events, strict=True):
            with m.If(clear_counters):
                m.d.sync += counter.eq(0)
            with m.Elif(event):
                m.d.sync += counter.eq(counter + 1)

        # -- register reads ----------------------------------------------------------------
        readable = {
            "STATUS": Cat(status_code, busy, initialised, ignored),
            "KEYID": keyid,
            "KEYID_CTRL": ctrl[:24],
            "FAULT_STATUS": log.level,
            "FAULT_OVERFLOW": overflow,
            "FAULT_ADDR_LO": Mux(log.r_rdy, head.address[:32], 0),
            "FAULT_ADDR_HI": Mux(log.r_rdy, head.address[32:], 0),
            "FAULT_INFO": Mux(log.r_rdy, Cat(head.keyid, head.source, C(0, 4), head.kind,
                                             head.write, C(0, 2), C(1, 1)), 0),
            "IRQ_STATUS": irq_status,
            "IRQ_ENABLE": irq_enable,
        }
        for (name, _), counter, latch in zip(PERF_EVENTS, counters, high_latches,
                                             strict=True):
            readable[f"PERF_{name.upper()}_LO"] = counter[:32]
            readable[f"PERF_{name.upper()}_HI"] = latch
        r_word = bus.reg_r_addr[2:]
        with m.Switch(r_word):
            for register in regmap:
                with m.Case(register.offset >> 2):
                    if register.access in (Access.WO, Access.WT):
                        m.d.comb += bus.reg_r_data.eq(0)   # key fields and triggers
                    elif register.name in readable:
                        m.d.comb += bus.reg_r_data.eq(readable[register.name])
                    else:
                        if register.access != Access.RO:
                            raise AssertionError(f"{register.name} has no read value")
                        m.d.comb += bus.reg_r_data.eq(Const(register.reset, 32))
            with m.Default():
                m.d.comb += bus.reg_r_error.eq(1)
        for (name, _), counter, latch in zip(PERF_EVENTS, counters, high_latches,
                                             strict=True):
            with m.If(bus.reg_r_en & (r_word == regmap.offset(f"PERF_{name.upper()}_LO") >> 2)):
                m.d.sync += latch.eq(counter[32:])
        with m.If(bus.reg_r_en & bus.reg_r_error):
            m.d.sync += _bad_access(pending_r, pending_r_valid, bus.reg_r_addr, write=False)

        # -- register writes ---------------------------------------------------------------
        w_word = bus.reg_w_addr[2:]
        wdata, wstrb, w_en = bus.reg_w_data, bus.reg_w_strb, bus.reg_w_en
        doorbell = Signal()
        field1_words = [field1[32 * i:32 * i + 32] for i in range(KEY_FIELD_WORDS)]
        field2_words = [field2[32 * i:32 * i + 32] for i in range(KEY_FIELD_WORDS)]
        command_register = Signal()      # a write to KEYID, KEYID_CTRL or a key field
        with m.If(w_en):
            with m.Switch(w_word):
                for register in regmap:
                    with m.Case(register.offset >> 2):
                        name = register.name
                        if name == "KEYID":
                            m.d.comb += command_register.eq(1)
                            with m.If(~busy):
                                m.d.sync += keyid.eq(_strobed(keyid, wdata, wstrb))
                        elif name == "KEYID_CTRL":
                            m.d.comb += command_register.eq(1)
                            with m.If(~busy):
                                m.d.sync += ctrl.eq(_strobed(ctrl, wdata, wstrb)[:24])
                        elif name.startswith("KEY_FIELD_"):
                            m.d.comb += command_register.eq(1)
                            words = field1_words if name[10] == "1" else field2_words
                            word = words[int(name.rsplit("_", 1)[1])]
                            with m.If(~busy):
                                m.d.sync += word.eq(_strobed(word, wdata, wstrb))
                        elif name == "DOORBELL":
                            m.d.comb += doorbell.eq(wstrb[0] & wdata[0])
                        elif name == "FAULT_OVERFLOW":
                            with m.If(wstrb[0] & wdata[0]):
                                m.d.sync += overflow.eq(0)
                        elif name == "FAULT_POP":
                            m.d.comb += log.r_en.eq(wstrb[0] & wdata[0])
                        elif name == "IRQ_STATUS":
                            pass   # below, with the hardware sets
                        elif name == "IRQ_ENABLE":
                            with m.If(wstrb[0]):
                                m.d.sync += irq_enable.eq(wdata[:3])
                        elif name == "PERF_CTRL":
                            m.d.comb += clear_counters.eq(wstrb[0] & wdata[0])
                        # Read-only registers: the write is ignored (OKAY).
                with m.Default():
                    m.d.comb += bus.reg_w_error.eq(1)
                    m.d.sync += _bad_access(pending_w, pending_w_valid, bus.reg_w_addr,
                                            write=True)
        irq_clear = Signal(3)
        with m.If(w_en & (w_word == regmap.offset("IRQ_STATUS") >> 2) & wstrb[0]):
            m.d.comb += irq_clear.eq(wdata[:3])
        m.d.sync += irq_status.eq((irq_status & ~irq_clear) | irq_set)

        # -- the command engine ------------------------------------------------------------
        is_256 = Signal()       # the command's key size
        m.d.comb += is_256.eq(algorithm == Algorithm.AES_XTS_256)
        words_per_key = Mux(is_256, 8, 4)
        entropy_index = Signal(range(2 * KEY_FIELD_WORDS + 1))
        waited = Signal(range(config.entropy_timeout + 1))
        platform_256 = config.platform_key_bits == 256

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
                    m.d.sync += field1_words[i].eq(field1_words[i] ^ self.entropy_data)
                with m.If(index == per_key + i):
                    m.d.sync += field2_words[i].eq(field2_words[i] ^ self.entropy_data)

        keyid_ok = Signal()
        m.d.comb += keyid_ok.eq((keyid >= config.first_programmable_keyid) &
                                (keyid < config.num_keys))
        algorithm_ok = Signal()     # exactly one bit, of a supported algorithm
        m.d.comb += algorithm_ok.eq(Cat(*[algorithm == Algorithm.for_key_bits(key_bits)
                                          for key_bits in config.key_sizes]).any())
        is_platform = Signal()
        m.d.comb += is_platform.eq(command == Command.LOAD_PLATFORM_KEY)
        result = Signal(8)       # the code STATUS shows when the command finishes
        new_entry = Signal(layout)
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
                # The platform key: 2 * platform_key_bits of entropy, as long as it takes.
                m.d.comb += self.entropy_ready.eq(1)
                per_key = 8 if platform_256 else 4
                with m.If(self.entropy_valid):
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
                    m.d.sync += [initialised.eq(1), field1.eq(0), field2.eq(0),
                                 decrypt_key.eq(0), busy.eq(0),
                                 status_code.eq(Status.PROG_SUCCESS)]
                    m.next = "IDLE"
            with m.State("IDLE"):
                with m.If(doorbell):
                    m.d.sync += [busy.eq(1), status_code.eq(Status.DEVICE_BUSY),
                                 ignored.eq(0)]
                    m.next = "CHECK"
            with m.State("CHECK"):
                command_ok = Signal()
                m.d.comb += command_ok.eq(command <= Command.NO_ENCRYPT)
                if config.platform_key_loadable:
                    with m.If(is_platform & ~platform_loaded):
                        m.d.comb += command_ok.eq(1)
                with m.If(~command_ok):
                    finish(Status.INVALID_PROG_CMD)
                with m.Elif(~is_platform & ~keyid_ok):
                    finish(Status.INVALID_KEYID)
                with m.Elif(is_platform & (algorithm !=
                                           Algorithm.for_key_bits(config.platform_key_bits))):
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
                m.d.comb += self.entropy_ready.eq(1)
                with m.If(self.entropy_valid):
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
                    self.retire_valid.eq(1),
                    self.retire_keyid.eq(keyid),
                    self.retire_all.eq(is_platform),
                ]
                with m.If(self.retire_done):
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
                    m.d.sync += platform_loaded.eq(1)
                with m.Else():
                    m.d.comb += [
                        table.write_en.eq(1),
                        table.write_keyid.eq(keyid),
                        table.write_entry.eq(new_entry),
                    ]
                m.d.comb += programmed_event.eq(1)
                finish(Status.PROG_SUCCESS)
            with m.State("FINISH"):
                m.d.comb += done_event.eq(1)
                m.d.sync += [busy.eq(0), status_code.eq(result),
                             field1.eq(0), field2.eq(0), decrypt_key.eq(0)]
                m.next = "IDLE"

        with m.If(busy & command_register & initialised):
            m.d.sync += ignored.eq(1)
        with m.If(busy & doorbell):
            m.d.sync += ignored.eq(1)
        return m
