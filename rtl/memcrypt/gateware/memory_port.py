"""The memory side: the cache's fills and write-backs through AES-XTS to an AXI4 memory.

Every access to memory is one 64-byte line, an INCR burst of four 128-bit beats
(AxSIZE 4, AxLEN 3; ARM IHI 0022E A3.4.1) at ``memory_base`` plus the line's stripped
address, with AxID 0, AxCACHE 0b0011 (normal, non-cacheable, bufferable) and AxPROT 0; the
KeyID never appears on the bus. Data is the line's AES-XTS ciphertext (IEEE 1619-2007,
tweak = the stripped byte address of the line, see :mod:`memcrypt.gateware.xts`) under the
keys of the KeyID the key table gives, or the plaintext for a NO_ENCRYPT KeyID.

One line at a time goes through the **key stage**: the cache's write-back or fill is
taken, its KeyID looked up in the key table (:data:`~memcrypt.gateware.keytable.LOOKUP_LATENCY`
cycles), and the line issued with the keys it found:

* a **fill** issues its read burst (AR) and, for an encrypted KeyID, its tweak to the
  engine of its key size at the same time, so the tweak is encrypted while memory is read
  and decryption adds only the data core's latency; the data follows when the four R
  beats are in;
* a **write-back** goes to the engine (tweak and data together), then to the write
  channels (AW and four W beats).

Up to ``FILL_SLOTS`` fills and ``WRITE_SLOTS`` write-backs are in flight; memory answers
each kind in order (one ID). Lines leave the engines and the plaintext bypass in the order
they were issued (the ``route`` FIFO says where each one is).

Ordering rules, designed in (and proven in ``formal/controller.py``):

1. **No stale fill.** A write-back holds a slot in the write tracker from the cycle the
   cache hands it over until memory answers it (BRESP); a fill of a line that a slot holds
   waits in the key stage. So no read of a line reaches memory before every earlier
   write-back of it has been answered.
2. **Retirement binds the old key.** A write-back's keys are read from the key table in
   the key stage, before anything else happens to it, and ``keys_bound`` is low while a
   write-back is taken but its keys not yet read; the controller lets a retirement
   complete only when it is high, so the key table is rewritten only after every
   write-back of the retired KeyID holds its old keys.

Errors: a fill whose R beats carry an error (SLVERR or DECERR) is answered to the cache with
``error`` (the line is not installed) and logged as MEMORY_ERROR (the line's physical
address with its KeyID, a read); a write-back answered with an error is logged as
MEMORY_ERROR (a write) and the line is reported lost: the cache no longer holds it, and
memory holds whatever it kept.
"""

from amaranth.hdl import Array, C, Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import MemcryptConfig, require_config
from ..geometry import LINE_BITS, LINE_OFFSET_BITS, WORD_BITS, WORDS_PER_LINE
from ..regmap import FaultKind, FaultSource, KeyMode
from .interfaces import (
    AXI4Signature,
    Burst,
    FaultSignature,
    FillRequest,
    FillResponse,
    KeyLookupSignature,
    Response,
    WriteBack,
)
from .xts import XTSEngine

__all__ = ["MemorySide", "FILL_SLOTS", "WRITE_SLOTS"]

#: Fills issued to memory and not yet handed to the cache.
FILL_SLOTS = 2
#: Write-backs taken from the cache and not yet answered by memory.
WRITE_SLOTS = 4
#: AxCACHE of every access: normal, non-cacheable, bufferable (A4.4).
MEMORY_AXCACHE = 0b0011
#: AxSIZE and AxLEN of a line: four beats of 16 bytes.
LINE_AXSIZE = 4
LINE_AXLEN = WORDS_PER_LINE - 1


class _Route:
    """Where a line issued by the key stage comes out: an engine (by key size) or the
    plaintext bypass, and whether it is a fill or a write-back."""

    BYPASS = 0

    def __init__(self, key_sizes):
        self.engines = {bits: index + 1 for index, bits in enumerate(key_sizes)}
        self.width = len(key_sizes).bit_length()


class MemorySide(wiring.Component):
    """The cache's memory side: key lookups, AES-XTS engines (one per key size of the
    build) and the AXI4 memory manager (see the module docstring).

    Parameters
    ----------
    config : MemcryptConfig
        Key sizes, engine architecture and S-boxes, ``memory_base``, ``memory_id_width``.
    engine_factory : callable or None
        ``engine_factory(key_bits)`` builds the engine of one key size: a component with
        the members of ``XTSEngine(early_tweak=True, tag_width=0)`` (``i_tweak``,
        ``i_stream``, ``o_stream``) that answers lines in order. Default: that
        :class:`~memcrypt.gateware.xts.XTSEngine` with the configuration's architecture and
        S-boxes. The formal proofs (``formal/controller.py``) pass a small stand-in cipher.

    Members
    -------
    fill_req : In(stream.Signature(FillRequest(config)))
    fill_resp : Out(stream.Signature(FillResponse()))
        The cache's fills: plaintext lines (or ``error``), in order.
    wb : In(stream.Signature(WriteBack(config)))
        The cache's write-backs.
    lookup : Out(KeyLookupSignature(config))
        The key table's lookup port.
    m_axi : Out(AXI4Signature(addr_width=phys_addr_bits, data_width=128, id_width=...))
        Memory.
    fault : Out(FaultSignature(config))
        MEMORY_ERROR records.
    encrypted, decrypted : Out(1)
        High for one cycle per line encrypted (decrypted) by an engine.
    keys_bound : Out(1)
        Every write-back taken has read its keys (ordering rule 2).
    writes_idle : Out(1)
        Memory has answered every write-back taken.
    """

    #: Ordering rule 1 (a fill waits for the write-backs of its line). Only the broken
    #: designs of ``formal/controller_mutants.py`` turn it off.
    _fill_waits_for_write_backs = True
    #: Ordering rule 2 (``keys_bound`` low until a write-back's keys are read). Only the
    #: broken designs of ``formal/controller_mutants.py`` turn it off.
    _keys_bound_after_lookup = True

    def __init__(self, config: MemcryptConfig, *, engine_factory=None):
        self._config = require_config(self, config)
        self._route = _Route(config.key_sizes)
        if engine_factory is None:
            def engine_factory(key_bits):
                return XTSEngine(key_bits=key_bits, architecture=config.engine,
                                 direction="both", tag_width=0, sbox=config.sbox,
                                 tweak_sbox="lut" if config.engine == "pipelined" else None,
                                 early_tweak=True)
        self._engines = {bits: engine_factory(bits) for bits in config.key_sizes}
        super().__init__({
            "fill_req": In(stream.Signature(FillRequest(config))),
            "fill_resp": Out(stream.Signature(FillResponse())),
            "wb": In(stream.Signature(WriteBack(config))),
            "lookup": Out(KeyLookupSignature(config)),
            "m_axi": Out(AXI4Signature(addr_width=config.phys_addr_bits, data_width=WORD_BITS,
                                       id_width=config.memory_id_width)),
            "fault": Out(FaultSignature(config)),
            "encrypted": Out(1),
            "decrypted": Out(1),
            "keys_bound": Out(1),
            "writes_idle": Out(1),
        })

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        config = self._config
        route_info = self._route
        line_bits = config.line_address_bits
        axi = self.m_axi
        engines = {}
        for bits, engine in self._engines.items():
            m.submodules[f"engine{bits}"] = engines[bits] = engine

        def memory_address(line):
            return config.memory_base + Cat(C(0, LINE_OFFSET_BITS), line)

        # -- the write tracker: write-backs from hand-over to BRESP (ordering rule 1) ------
        slot_line = Array(Signal(line_bits, name=f"wb_slot{i}_line") for i in range(WRITE_SLOTS))
        slot_keyid = Array(Signal(config.keyid_bits, name=f"wb_slot{i}_keyid")
                           for i in range(WRITE_SLOTS))
        slot_valid = Signal(WRITE_SLOTS, name="wb_slot_valid")
        slot_head = Signal(range(WRITE_SLOTS), name="wb_slot_head")      # oldest
        slot_tail = Signal(range(WRITE_SLOTS), name="wb_slot_tail")      # next free
        tracker_full = slot_valid.all()
        m.d.comb += self.writes_idle.eq(~slot_valid.any())

        # -- the key stage ---------------------------------------------------------------------
        stage_line = Signal(line_bits, name="stage_line")
        stage_keyid = Signal(config.keyid_bits, name="stage_keyid")
        stage_data = Signal(LINE_BITS, name="stage_data")
        stage_write = Signal(name="stage_write")
        stage_entry = Signal.like(self.lookup.result, name="stage_entry")
        fill_conflict = Signal(name="fill_conflict")
        if self._fill_waits_for_write_backs:
            m.d.comb += fill_conflict.eq(Cat(*[
                slot_valid[i] & (slot_line[i] == self.fill_req.payload.line)
                for i in range(WRITE_SLOTS)]).any())

        # Fills issued and not yet delivered to the cache, and per engine the fills whose
        # tweak went in before their data.
        fills_in_flight = Signal(range(FILL_SLOTS + 1), name="fills_in_flight")
        awaiting = {bits: Signal(range(FILL_SLOTS + 1), name=f"engine{bits}_awaiting_data")
                    for bits in engines}

        route_layout = data.StructLayout({
            "route": route_info.width, "write": 1, "line": line_bits,
            "keyid": config.keyid_bits})
        m.submodules.routes = routes = fifo.SyncFIFOBuffered(
            width=route_layout.size, depth=FILL_SLOTS + WRITE_SLOTS)
        fill_meta_layout = data.StructLayout({
            "route": route_info.width, "line": line_bits, "keyid": config.keyid_bits})
        m.submodules.fill_meta = fill_meta = fifo.SyncFIFOBuffered(
            width=fill_meta_layout.size, depth=FILL_SLOTS + 1)
        m.submodules.fill_errors = fill_errors = fifo.SyncFIFOBuffered(
            width=1, depth=FILL_SLOTS + 1)
        m.submodules.fill_plain = fill_plain = fifo.SyncFIFOBuffered(
            width=LINE_BITS, depth=FILL_SLOTS + 1)
        m.submodules.write_plain = write_plain = fifo.SyncFIFOBuffered(width=LINE_BITS, depth=3)

        stage_route = Signal(route_info.width, name="stage_route")
        if len(engines) == 1:
            engine_route = route_info.engines[config.key_sizes[0]]
        else:
            engine_route = Mux(stage_entry.aes256, route_info.engines[256],
                               route_info.engines[128])
        m.d.comb += stage_route.eq(Mux(stage_entry.mode == KeyMode.NO_ENCRYPT,
                                       _Route.BYPASS, engine_route))
        route_in = Signal(route_layout)
        m.d.comb += [route_in.route.eq(stage_route), route_in.write.eq(stage_write),
                     route_in.line.eq(stage_line), route_in.keyid.eq(stage_keyid),
                     routes.w_data.eq(route_in)]
        meta_in = Signal(fill_meta_layout)
        m.d.comb += [meta_in.route.eq(stage_route), meta_in.line.eq(stage_line),
                     meta_in.keyid.eq(stage_keyid), fill_meta.w_data.eq(meta_in)]

        tweak = Cat(C(0, LINE_OFFSET_BITS), stage_line)
        for bits, engine in engines.items():
            request = engine.i_tweak.payload
            m.d.comb += [
                request.tweak.eq(tweak),
                request.tweak_key.eq(stage_entry.tweak_key[:bits]),
                request.data_key.eq(Mux(stage_write, stage_entry.data_key[:bits],
                                        stage_entry.decrypt_key[:bits])),
                request.decrypt.eq(~stage_write),
            ]

        # The parts of an issue, each a handshake of its own, done when all are.
        tweak_sent = Signal(name="tweak_sent")
        data_sent = Signal(name="data_sent")
        address_sent = Signal(name="address_sent")

        m.d.comb += [
            self.lookup.keyid.eq(Mux(self.wb.valid & self.wb.ready, self.wb.payload.keyid,
                                     self.fill_req.payload.keyid)),
            axi.araddr.eq(memory_address(stage_line)),
            axi.arlen.eq(LINE_AXLEN), axi.arsize.eq(LINE_AXSIZE), axi.arburst.eq(Burst.INCR),
            axi.arcache.eq(MEMORY_AXCACHE),
        ]

        keys_bound = Signal(init=1, name="stage_keys_bound")
        if self._keys_bound_after_lookup:
            m.d.comb += self.keys_bound.eq(keys_bound & ~(self.wb.valid & self.wb.ready))
        else:
            m.d.comb += self.keys_bound.eq(1)

        with m.FSM(name="key_stage"):
            with m.State("IDLE"):
                with m.If(self.wb.valid & ~tracker_full):
                    m.d.comb += [self.wb.ready.eq(1), self.lookup.valid.eq(1)]
                    m.d.sync += [
                        stage_line.eq(self.wb.payload.line),
                        stage_keyid.eq(self.wb.payload.keyid),
                        stage_data.eq(self.wb.payload.data),
                        stage_write.eq(1),
                        keys_bound.eq(0),
                        slot_valid.bit_select(slot_tail, 1).eq(1),
                        slot_line[slot_tail].eq(self.wb.payload.line),
                        slot_keyid[slot_tail].eq(self.wb.payload.keyid),
                        slot_tail.eq(Mux(slot_tail == WRITE_SLOTS - 1, 0, slot_tail + 1)),
                    ]
                    m.next = "LOOKUP"
                with m.Elif(self.fill_req.valid & ~fill_conflict &
                            (fills_in_flight != FILL_SLOTS)):
                    m.d.comb += [self.fill_req.ready.eq(1), self.lookup.valid.eq(1)]
                    m.d.sync += [
                        stage_line.eq(self.fill_req.payload.line),
                        stage_keyid.eq(self.fill_req.payload.keyid),
                        stage_write.eq(0),
                    ]
                    m.next = "LOOKUP"

            with m.State("LOOKUP"):
                with m.If(self.lookup.result_valid):
                    m.d.sync += [stage_entry.eq(self.lookup.result), keys_bound.eq(1),
                                 tweak_sent.eq(0), data_sent.eq(0), address_sent.eq(0)]
                    m.next = "ISSUE_WRITE_BACK"
                    with m.If(~stage_write):
                        m.next = "ISSUE_FILL"

            with m.State("ISSUE_WRITE_BACK"):
                # Into the engine behind every fill already waiting there for its data.
                with m.If(routes.w_rdy):
                    with m.Switch(stage_route):
                        with m.Case(_Route.BYPASS):
                            m.d.comb += [write_plain.w_data.eq(stage_data),
                                         write_plain.w_en.eq(1)]
                            with m.If(write_plain.w_rdy):
                                m.d.comb += routes.w_en.eq(1)
                                m.next = "IDLE"
                        for bits, engine in engines.items():
                            with m.Case(route_info.engines[bits]):
                                # Only while no fill waits for its data there (the fill
                                # path drives the engine's data input otherwise).
                                turn = awaiting[bits] == 0
                                with m.If(turn):
                                    m.d.comb += [
                                        engine.i_tweak.valid.eq(~tweak_sent),
                                        engine.i_stream.valid.eq(~data_sent),
                                        engine.i_stream.payload.data.eq(stage_data),
                                    ]
                                tweak_done = tweak_sent | (turn & engine.i_tweak.ready)
                                data_done = data_sent | (turn & engine.i_stream.ready)
                                m.d.sync += [tweak_sent.eq(tweak_done), data_sent.eq(data_done)]
                                with m.If(tweak_done & data_done):
                                    m.d.comb += routes.w_en.eq(1)
                                    m.next = "IDLE"

            with m.State("ISSUE_FILL"):
                # The read burst, and the tweak into the engine while memory is read.
                with m.If(routes.w_rdy & fill_meta.w_rdy):
                    m.d.comb += axi.arvalid.eq(~address_sent)
                    address_done = address_sent | (axi.arvalid & axi.arready)
                    m.d.sync += address_sent.eq(address_done)
                    tweak_done = Signal(name="fill_tweak_done")
                    with m.Switch(stage_route):
                        with m.Case(_Route.BYPASS):
                            m.d.comb += tweak_done.eq(1)
                        for bits, engine in engines.items():
                            with m.Case(route_info.engines[bits]):
                                m.d.comb += [
                                    engine.i_tweak.valid.eq(~tweak_sent),
                                    tweak_done.eq(tweak_sent | engine.i_tweak.ready),
                                ]
                    m.d.sync += tweak_sent.eq(tweak_done)
                    with m.If(address_done & tweak_done):
                        m.d.comb += [routes.w_en.eq(1), fill_meta.w_en.eq(1)]
                        m.next = "IDLE"

        # -- fill data: four R beats, then into the engine or the bypass ------------------------
        beat = Signal(range(WORDS_PER_LINE), name="r_beat")
        collected = Signal(LINE_BITS - WORD_BITS, name="r_collected")
        read_line = Signal(LINE_BITS, name="r_line")
        read_error = Signal(name="r_error")
        read_complete = Signal(name="r_complete")
        fault = self.fault
        fill_head = data.View(fill_meta_layout, fill_meta.r_data)
        beat_error = axi.rresp != Response.OKAY
        m.d.comb += axi.rready.eq(~read_complete)
        with m.If(axi.rvalid & axi.rready):
            m.d.sync += beat.eq(beat + 1)
            with m.If(beat == WORDS_PER_LINE - 1):
                m.d.sync += [read_line.eq(Cat(collected, axi.rdata)), read_complete.eq(1),
                             read_error.eq(read_error | beat_error)]
            with m.Else():
                m.d.sync += [collected.eq(Cat(collected[WORD_BITS:], axi.rdata)),
                             read_error.eq(read_error | beat_error)]

        write_fault = Signal(name="write_fault")      # the B path logs this cycle
        deliver = Signal(name="r_deliver")
        data_ready = Signal(name="r_data_ready")
        with m.Switch(fill_head.route):
            with m.Case(_Route.BYPASS):
                m.d.comb += [data_ready.eq(fill_plain.w_rdy), fill_plain.w_data.eq(read_line),
                             fill_plain.w_en.eq(deliver)]
            for bits, engine in engines.items():
                with m.Case(route_info.engines[bits]):
                    m.d.comb += data_ready.eq(engine.i_stream.ready)
        offer = Signal(name="r_offer")      # the line waits for its engine or the bypass
        m.d.comb += [
            offer.eq(read_complete & fill_meta.r_rdy & fill_errors.w_rdy &
                     (~read_error | (~fault.valid & ~write_fault))),
            deliver.eq(offer & data_ready),
        ]
        for bits, engine in engines.items():
            # The write-back path drives the engine's data input only in the key stage,
            # and only while no fill waits for its data there: the two never meet.
            with m.If(read_complete & fill_meta.r_rdy &
                      (fill_head.route == route_info.engines[bits])):
                m.d.comb += [engine.i_stream.valid.eq(offer),
                             engine.i_stream.payload.data.eq(read_line)]
        m.d.comb += [fill_meta.r_en.eq(deliver), fill_errors.w_en.eq(deliver),
                     fill_errors.w_data.eq(read_error)]
        with m.If(deliver):
            m.d.sync += [read_complete.eq(0), read_error.eq(0)]
            with m.If(read_error):
                m.d.sync += [
                    fault.valid.eq(1),
                    fault.record.address.eq(Cat(C(0, LINE_OFFSET_BITS), fill_head.line,
                                                fill_head.keyid)),
                    fault.record.keyid.eq(fill_head.keyid),
                    fault.record.source.eq(FaultSource.HOST),
                    fault.record.kind.eq(FaultKind.MEMORY_ERROR),
                    fault.record.write.eq(0),
                ]
        with m.If(fault.valid & fault.ready):
            m.d.sync += fault.valid.eq(0)

        # Fill accounting.
        issued_fill = fill_meta.w_en
        delivered_fill = Signal(name="fill_delivered")
        m.d.sync += fills_in_flight.eq(fills_in_flight + issued_fill - delivered_fill)
        for bits, engine in engines.items():
            tweak_in = (~stage_write & engine.i_tweak.valid & engine.i_tweak.ready)
            data_in = (deliver & (fill_head.route == route_info.engines[bits]))
            m.d.sync += awaiting[bits].eq(awaiting[bits] + tweak_in - data_in)

        # -- lines out, in issue order -----------------------------------------------------------
        route_head = data.View(route_layout, routes.r_data)
        out_data = Signal(LINE_BITS, name="out_data")
        out_valid = Signal(name="out_valid")
        with m.Switch(route_head.route):
            with m.Case(_Route.BYPASS):
                m.d.comb += [out_valid.eq(Mux(route_head.write, write_plain.r_rdy,
                                              fill_plain.r_rdy)),
                             out_data.eq(Mux(route_head.write, write_plain.r_data,
                                             fill_plain.r_data))]
            for bits, engine in engines.items():
                with m.Case(route_info.engines[bits]):
                    m.d.comb += [out_valid.eq(engine.o_stream.valid),
                                 out_data.eq(engine.o_stream.payload.data)]
        out_take = Signal(name="out_take")
        write_stage_free = Signal(name="write_stage_free")
        m.d.comb += [
            self.fill_resp.valid.eq(routes.r_rdy & ~route_head.write & out_valid &
                                    fill_errors.r_rdy),
            self.fill_resp.payload.data.eq(out_data),
            self.fill_resp.payload.error.eq(fill_errors.r_data),
            out_take.eq(routes.r_rdy & out_valid &
                        Mux(route_head.write, write_stage_free,
                            fill_errors.r_rdy & self.fill_resp.ready)),
            routes.r_en.eq(out_take),
            fill_errors.r_en.eq(out_take & ~route_head.write),
            delivered_fill.eq(out_take & ~route_head.write),
            write_plain.r_en.eq(out_take & route_head.write &
                                (route_head.route == _Route.BYPASS)),
            fill_plain.r_en.eq(out_take & ~route_head.write &
                               (route_head.route == _Route.BYPASS)),
            self.encrypted.eq(out_take & route_head.write & (route_head.route != _Route.BYPASS)),
            self.decrypted.eq(out_take & ~route_head.write &
                              (route_head.route != _Route.BYPASS) & ~fill_errors.r_data),
        ]
        for bits, engine in engines.items():
            m.d.comb += engine.o_stream.ready.eq(
                out_take & (route_head.route == route_info.engines[bits]))

        # -- the write channels: one line at a time, AW and four W beats -------------------------
        write_line = Signal(line_bits, name="w_line")
        write_data = Signal(LINE_BITS, name="w_data")
        write_busy = Signal(name="w_busy")
        write_address_sent = Signal(name="w_address_sent")
        write_beat = Signal(range(WORDS_PER_LINE), name="w_beat")
        write_beats_done = Signal(name="w_beats_done")
        m.d.comb += write_stage_free.eq(~write_busy)
        with m.If(out_take & route_head.write):
            m.d.sync += [write_busy.eq(1), write_line.eq(route_head.line),
                         write_data.eq(out_data), write_address_sent.eq(0),
                         write_beat.eq(0), write_beats_done.eq(0)]
        m.d.comb += [
            axi.awaddr.eq(memory_address(write_line)),
            axi.awlen.eq(LINE_AXLEN), axi.awsize.eq(LINE_AXSIZE), axi.awburst.eq(Burst.INCR),
            axi.awcache.eq(MEMORY_AXCACHE),
            axi.awvalid.eq(write_busy & ~write_address_sent),
            axi.wvalid.eq(write_busy & ~write_beats_done),
            axi.wdata.eq(write_data.word_select(write_beat, WORD_BITS)),
            axi.wstrb.eq((1 << (WORD_BITS // 8)) - 1),
            axi.wlast.eq(write_beat == WORDS_PER_LINE - 1),
        ]
        address_now = write_address_sent | (axi.awvalid & axi.awready)
        beats_now = write_beats_done | (axi.wvalid & axi.wready & axi.wlast)
        with m.If(write_busy):
            m.d.sync += [write_address_sent.eq(address_now), write_beats_done.eq(beats_now)]
            with m.If(axi.wvalid & axi.wready):
                m.d.sync += write_beat.eq(write_beat + 1)
            with m.If(address_now & beats_now):
                m.d.sync += write_busy.eq(0)

        # -- write responses: free the oldest slot; an error is logged -------------------------
        b_error = axi.bresp != Response.OKAY
        m.d.comb += [
            axi.bready.eq(~b_error | ~fault.valid),
            write_fault.eq(axi.bvalid & b_error & ~fault.valid),
        ]
        with m.If(axi.bvalid & axi.bready):
            m.d.sync += [
                slot_valid.bit_select(slot_head, 1).eq(0),
                slot_head.eq(Mux(slot_head == WRITE_SLOTS - 1, 0, slot_head + 1)),
            ]
            with m.If(b_error):
                m.d.sync += [
                    fault.valid.eq(1),
                    fault.record.address.eq(Cat(C(0, LINE_OFFSET_BITS), slot_line[slot_head],
                                                slot_keyid[slot_head])),
                    fault.record.keyid.eq(slot_keyid[slot_head]),
                    fault.record.source.eq(FaultSource.HOST),
                    fault.record.kind.eq(FaultKind.MEMORY_ERROR),
                    fault.record.write.eq(1),
                ]
        return m
