"""Formal specification of the controller's blocks at its top: the memory side
(:class:`~memcrypt.gateware.memory_port.MemorySide`) and the host port
(:class:`~memcrypt.gateware.host_port.AXI4HostPort`).

**Memory side** (:class:`MemorySideSpec`, :data:`CONFIG`: 12-bit physical addresses, 2 KeyID
bits, 4 KeyIDs, 16 lines of memory at 0x400 on the memory bus, AES-128 only;
:data:`CONFIG_2K` adds AES-256, so two engines routed by the key table's ``aes256``).

*Abstractions* (what the end-to-end cocotb benches cover instead):

* **Stand-in cipher** (:class:`StandInCipher`) instead of ``XTSEngine``: the same members as
  ``XTSEngine(early_tweak=True, tag_width=0)``, lines in order (the n-th tweak pairs with the
  n-th data), free latency and stalls (every handshake and output an ``AnySeq`` choice, at
  most two tweaks and two lines held), and a cipher that XORs a pad, a function of the data
  key, the tweak key, the tweak (line address), the direction and the engine's key size
  (:func:`pad_byte`), into the tracked bits: invertible, and telling which key, tweak,
  direction and engine a line went through. AES, XTS and their timing are not modelled.
* **Tracked data**: byte 0 of each 128-bit word (32 bits of a line). The cache, memory and
  the stand-in drive the other 480 bits as zero; the data path moves whole words, so a fault
  that only swaps bytes inside a word would escape (the cocotb bench compares every bit).
* **Key table**: per KeyID a mode (PLATFORM, KEYED or NO_ENCRYPT), a size (CONFIG_2K) and
  a key byte from which the data key, the tweak key and the decryption start key are
  derived; the lookup is answered exactly ``LOOKUP_LATENCY`` cycles after ``valid`` with
  the table as it is then. The table changes (any entries, to any values) only in a cycle
  in which ``keys_bound`` is high: the controller's contract (a retirement completes, and
  the control rewrites the table, only then). For the fill properties it also stays put
  while a fill is outstanding (in the controller the cache starts a retirement only when
  it is free, and a cache with a fill outstanding is not).
* **Small geometry**: the slots (``FILL_SLOTS``, ``WRITE_SLOTS``) and FIFOs are the
  design's own; only the address space is small.

*Environment*: the cache side is free (fill requests and write-backs with free lines,
KeyIDs and data, any valid timing, no stream-rule assumption: the memory side samples them
only at the handshake; ``fill_resp.ready`` and ``fault.ready`` free); memory keeps the AXI4
rules: any AxREADY/WREADY timing, R beats only for an open AR, four per AR, in order, B only
once an AW and its four W beats are in, each held until ready, any response code (OKAY,
EXOKAY, SLVERR, DECERR); reset in the first cycle only, no input valid during it.

*Properties* (named assertions), each selected per task:

* ``axi`` -- AXI4 manager rules on ``m_axi`` (ARM IHI 0022E): ARVALID, AWVALID and WVALID
  low in reset (A3.1.2); each held, with its payload (all AxID/ADDR/LEN/SIZE/BURST/LOCK/
  CACHE/PROT/QOS; WSTRB, WLAST), until ready (A3.2.2; ``ar_holds``, ``aw_holds``,
  ``w_holds``); every burst is one line: AxLEN 3, AxSIZE 4, INCR, 64-byte aligned, inside
  ``[memory_base, memory_base + mem_bytes)`` (``ar_line_burst``, ``aw_line_burst``); WLAST
  on every fourth W beat and only there, all strobes (``w_last_on_fourth``); AWs and
  completed W bursts never more than one apart, so exactly four W beats per AW
  (``one_w_burst_per_aw``); at most ``FILL_SLOTS`` reads and ``WRITE_SLOTS`` writes
  outstanding (``reads_within_fill_slots``, ``writes_within_write_slots``); RREADY and BREADY
  come within the bounds of ``response``; ``writes_idle`` is high exactly when every
  write-back handed over has been answered on B (``writes_idle``); no write-back is taken
  with ``WRITE_SLOTS`` unanswered, no fill with ``FILL_SLOTS`` unanswered.
* ``order`` -- ordering rule 1, **no stale fill**: for a line ``L`` chosen by the solver
  (``AnyConst``), no ARVALID at L's address while a write-back of L handed over on ``wb`` has
  not been answered on B (``no_stale_fill``). Write-backs are answered in hand-over order
  (one ID), so a ring of the write-backs in flight, popped by B, tells which are open.
* ``keys`` -- ordering rule 2, **retirement binds the old key**, and routing: every W beat is
  the tracked data of the write-back at the head of the ring (hand-over order), encrypted by
  the stand-in under the key its KeyID had *when it was handed over* (plaintext for
  NO_ENCRYPT), in beat order (``write_back_key``); each AW is at its write-back's line
  (``write_back_address``); no W without a write-back (``no_write_without_write_back``);
  WDATA held until WREADY (``wdata_holds``).
* ``fills`` -- data integrity: each AR is at the line of the oldest fill not yet read
  (``fill_address``); each ``fill_resp`` answers the oldest fill whose four R beats are in
  (``no_fill_response_from_nothing``), with ``error`` set exactly when one of them was not
  OKAY (``fill_error``) and, without error, the stand-in decryption of the beats in order
  under the key of its KeyID (``fill_data``; NO_ENCRYPT lines unchanged); ``fill_resp``
  held until ready (``fill_resp_holds``).
* ``response`` -- bounded response: memory takes each AR, AW and W beat within ``M``
  cycles, offers each R beat and B within ``M`` cycles of owing it, the cache takes each
  ``fill_resp`` within ``M``, the fault log each record within ``M``, the stand-in takes
  and delivers within ``M``: then every fill taken is answered (``fill_resp`` handshake)
  and every write-back taken is answered on B within ``RESPONSE_BOUND`` cycles
  (``fill_within_bound``, ``write_back_within_bound``).

*How far*: ``axi`` and ``order`` are **unbounded** (k-induction, depth
:data:`INDUCTION_DEPTH`) with white-box invariants (:meth:`MemorySideSpec._invariants`,
asserted, never assumed): the write tracker's slots, head and tail are the specification's
ring of write-backs in flight; each write-back in flight is in the key stage, in the route
FIFO (its entries read in order through added read ports), in the write stage or waiting
for B, as the AW and W counts say, and the W beat counters agree; each fill in flight is in
the key stage or the route FIFO, and the open reads are the fills in ``fill_meta`` (and
the one being issued) less a burst complete; per engine, its tweaks are its route
entries (and the line being issued), its data all but those of the fills waiting for
theirs, which are its youngest entries and are in ``fill_meta``; the bypass FIFOs hold the
bypass write-backs and read fills; a fill in the key stage has no write-back of its line in
flight. ABC's PDR closes neither property in 10 minutes. The data properties (``keys``,
``fills``) and the response bound are **bounded** (ABC ``bmc3``) at the depths of the
table: their invariants would also relate the tracked data in every FIFO and engine queue
to the rings. In those depths the covers reach a fill answered at step 12, both fill slots
in use at step 11, all four write slots and a fill held back by a write-back of its line
and then read at step 17. The response bound says that no fill or write-back of the first
``RESPONSE_DEPTH`` cycles takes longer than ``RESPONSE_BOUND``; a longer worst case
(queues full of write-backs, each waiting for the W channel) is not reached at that depth,
so it is not a proven worst case.

*RTL bug found and fixed* (``memory_side_keys`` failed at step 19 on the design before
commit e0f64e5): in ``ISSUE_WRITE_BACK``, while a fill's tweak waited in the engine for
its data (``engine128_awaiting_data`` = 1), the write-back did not drive the engine, but
its ``data_done`` counted any handshake on the engine's ``i_stream`` -- including the
fill's data delivered in that cycle (``r_deliver``). The write-back set ``data_sent``,
sent its tweak the next cycle and left with its data never sent: the engine paired its
tweak with the next line's data, so memory received another line's plaintext encrypted
under this line's keys, and every later line of that engine was shifted by one (a fill
could be answered with a write-back's plaintext). Trace: a fill taken at step 1 (AR and
tweak at step 5, R beats 6-9); write-back A handed over at step 6 (lookup 7-9), in
``ISSUE_WRITE_BACK`` at step 10 with ``awaiting`` 1 while ``r_deliver`` put the fill's
data into the engine; at step 11 A's tweak went in with ``i_stream.valid`` low and the
stage returned to IDLE; write-back B, handed over at step 12, put its data in at step 16,
paired with A's tweak; at step 19 A's first W beat was B's data under A's pad. The design
now counts a write-back's handshakes only on its turn (``awaiting == 0``), and the task
passes. ``memory_side_keys_write_backs`` (no fills) checks the key binding alone.

Mutants (:mod:`.controller_mutants`): ``_fill_waits_for_write_backs = False`` fails
``no_stale_fill``; ``_keys_bound_after_lookup = False`` fails ``write_back_key`` (with
write-backs only, so that nothing but the key binding can be what fails).

**Host port** (:class:`HostPortSpec`, :data:`HOST_CONFIG`: 15-bit addresses with 2 KeyID
bits, so 13-bit stripped addresses: a 4 KiB boundary inside memory and an address bit
above it, as in every real build; KeyID 3 has no key storage; memory ends at 6 KiB).

*Environment*: a free AXI4 manager keeping the manager's rules (AWVALID, WVALID, ARVALID
low in reset; each held with its payload until ready) and nothing else: any burst, legal
or not, any ID, any WLAST (the port counts beats from AxLEN), free BREADY and RREADY, free
``enable``; a free cache (``req.ready`` free) that answers each request in order at a free
time with free data and error; a free fault log (``fault.ready``). *Abstraction*: the
manager's write data and the cache's read data are free in bytes 0 and 15 of the word and
zero elsewhere (the port moves whole words and never looks at data).

*Properties*: R and B low in reset; BVALID with BID/BRESP and RVALID with RID/RDATA/
RRESP/RLAST held until ready; bursts answered per direction in acceptance order, each R
beat and B with its burst's ID; exactly AxLEN + 1 R beats per AR, RLAST on the last only;
one B per AW, after its AxLEN + 1 W beats; W beats taken only for an open burst; at most
``QUEUE_DEPTH`` + 1 bursts of a kind open. From an independent reference (computed in the
specification from AMBA's rules, A3.4.1, A3.4.4): a refused burst (reserved AxBURST, AxSIZE
above the bus, WRAP of another length or unaligned, FIXED above 16 beats, INCR across
4 KiB -- SLVERR, PROTOCOL_ERROR; a KeyID without storage -- DECERR, INVALID_KEYID; a byte at
or beyond ``mem_bytes`` -- DECERR, OUT_OF_RANGE; in that order) makes no request, exactly
one fault record (offered while the burst is answered, with AxADDR, the KeyID, the kind,
the direction, source HOST; held until taken), its R beats carry its code and zero data and
its B its code. An accepted burst makes exactly AxLEN + 1 requests, one at a time, at the
addresses of AMBA's burst rules (A3.4.2) computed from the beat number: FIXED the start;
INCR the start, then the aligned start plus n times the size; WRAP wrapping at
(AxLEN + 1) x size), under the burst's KeyID; a write request carries its W beat (taken
in the same cycle) with WSTRB restricted to the beat's byte lanes (A3.4.3); each R beat
carries its request's answer (SLVERR and zero data for an error), B the worst (SLVERR if
any beat failed). The request stream holds valid and payload until ready (data and strobes
of writes only: a read request carries whatever WDATA is).

``host_port`` is **unbounded** (k-induction, depth 2) with white-box invariants: the FSM
state, per direction the bursts open = queue level + the one served, the queue's entries
(probed through added read ports) are the bursts after it in order, the served burst's
registers (address, length, size, type, KeyID, wrap mask, refusal and kind) are the
reference's, and per state the beat address, beats left, requests made and answered, R/W
beats, held read data and response, worst write response and fault bookkeeping agree with
the specification's counters. ``host_port_cover``: a completed INCR, WRAP (narrow, not at
a word boundary), FIXED, narrow and unaligned burst of each kind, each refusal kind, a
failed beat, back-to-back bursts.
"""

import dataclasses

from amaranth.asserts import AnyConst, AnySeq, Initial
from amaranth.hdl import (
    Array,
    Assert,
    Assume,
    C,
    Cat,
    ClockDomain,
    Cover,
    Elaboratable,
    Fragment,
    Module,
    Mux,
    ResetSignal,
    Signal,
    Value,
)
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from memcrypt.config import MemcryptConfig
from memcrypt.flow.formal import FormalTask
from memcrypt.gateware.aes import Direction
from memcrypt.gateware.host_port import QUEUE_DEPTH, AXI4HostPort
from memcrypt.gateware.interfaces import Burst, Response
from memcrypt.gateware.keytable import LOOKUP_LATENCY
from memcrypt.gateware.memory_port import (
    FILL_SLOTS,
    LINE_AXLEN,
    LINE_AXSIZE,
    WRITE_SLOTS,
    MemorySide,
)
from memcrypt.gateware.xts import xts_response_layout, xts_tweak_layout
from memcrypt.geometry import LINE_BITS, LINE_OFFSET_BITS, WORD_BITS, WORDS_PER_LINE
from memcrypt.regmap import FaultKind, FaultSource, KeyMode

from .whitebox import Probe

__all__ = ["CONFIG", "CONFIG_2K", "HOST_CONFIG", "MAP", "TRACKED_BITS", "pad_byte",
           "StandInCipher", "MemorySideSpec", "HostPortSpec", "tasks"]

#: 12-bit physical addresses (the narrowest AXI4 address) with a 2-bit KeyID: 10-bit
#: stripped addresses, 16 lines of 64 bytes, all of them memory, at 0x400 on the memory bus.
CONFIG = MemcryptConfig(phys_addr_bits=12, keyid_bits=2, num_keys=4, mem_bytes=1 << 10,
                        key_sizes=(128,), cache_ways=1, cache_sets=1, memory_base=0x400,
                        memory_id_width=1, host_id_width=2, fault_log_depth=2,
                        entropy_timeout=4, name="formal")
#: The same with both key sizes: two engines, routed by the key table's ``aes256``.
CONFIG_2K = dataclasses.replace(CONFIG, key_sizes=(128, 256))

#: Memories (the FIFOs) as flip-flops, and the untracked data bits (constant zero) folded.
MAP = ("memory_map", "opt -full", "opt_clean")

INDUCTION_DEPTH = 3
KEYS_DEPTH = 20
KEYS_ONLY_DEPTH = 16
FILLS_DEPTH = 17
KEYS_2K_DEPTH = 15
RESPONSE_M = 1
RESPONSE_BOUND = 24
RESPONSE_DEPTH = 30
COVER_DEPTH = 20
HOST_COVER_DEPTH = 12

#: Bits tracked of each 128-bit word (its byte 0): 32 of a line's 512.
TRACKED_BITS = 8
UNTRACKED = WORD_BITS - TRACKED_BITS
DECRYPT_MARK = 0x80
ENGINE_MARK = {128: 0x00, 256: 0x40}


def tracked(line):
    """The tracked bits of a 512-bit line: byte 0 of each word, 32 bits."""
    return Cat(*(line[WORD_BITS * i:WORD_BITS * i + TRACKED_BITS]
                 for i in range(WORDS_PER_LINE)))


def spread(bits):
    """A 512-bit line whose tracked bits are ``bits`` (32) and whose other bits are zero."""
    return Cat(*(Cat(bits[TRACKED_BITS * i:TRACKED_BITS * (i + 1)], C(0, UNTRACKED))
                 for i in range(WORDS_PER_LINE)))


def replicate(byte, count):
    return Cat(*([byte] * count))


def rotl(byte, n):
    return Cat(byte[8 - n:], byte[:8 - n])


def pad_byte(data_key, tweak_key, line, decrypt, key_bits):
    """The stand-in cipher's pad: a function of the data key, the tweak key, the tweak (the
    line address), the direction and the engine (key size), one byte XORed into the
    tracked byte of every word."""
    return (data_key ^ rotl(tweak_key, 1) ^ line ^ Mux(decrypt, DECRYPT_MARK, 0) ^
            ENGINE_MARK[key_bits])


def tweak_key_of(key):
    """The harness's key table: tweak key byte of a KeyID whose key byte is ``key``."""
    return rotl(key, 3) ^ 0x5A


def decrypt_key_of(key):
    """... and its data key's decryption start key byte."""
    return ~key


def eventually(m, want, within, name):
    """A free bit, high within ``within`` cycles of ``want`` being high (``None``: free)."""
    go = Signal(name=name)
    if within is None:
        m.d.comb += go.eq(AnySeq(1))
        return go
    waited = Signal(range(within + 1), name=f"{name}_waited")
    m.d.comb += go.eq(AnySeq(1) | (waited == within))
    with m.If(want & ~go):
        m.d.sync += waited.eq(waited + 1)
    with m.Else():
        m.d.sync += waited.eq(0)
    return go


def hold(m, valid, ready, payload, check, name):
    """``check`` (Assume or Assert) that ``valid`` and ``payload`` hold until ``ready``."""
    payload = [Value.cast(p) for p in payload]
    bits = Cat(*payload)
    stalled = Signal(name=f"{name}_stalled")
    last = Signal(len(bits), name=f"{name}_last")
    m.d.sync += [stalled.eq(valid & ~ready), last.eq(bits)]
    with m.If(stalled):
        m.d.comb += check(valid & (bits == last), name)
    return stalled


class _Queue:
    """A small FIFO of registers in the specification (entry 0 is the head)."""

    def __init__(self, m, width, depth, name):
        self.entries = [Signal(width, name=f"{name}{i}") for i in range(depth)]
        self.count = Signal(range(depth + 1), name=f"{name}_count")
        self.push = Signal(name=f"{name}_push")
        self.pop = Signal(name=f"{name}_pop")
        self.w_data = Signal(width, name=f"{name}_w_data")
        self.head = self.entries[0]
        self.full = self.count == depth
        self.empty = self.count == 0
        count = self.count
        m.d.sync += count.eq(count + self.push - self.pop)
        for i, entry in enumerate(self.entries):
            after = self.entries[i + 1] if i + 1 < depth else entry
            with m.If(self.pop):
                m.d.sync += entry.eq(Mux(self.push & (count == i + 1), self.w_data, after))
            with m.Elif(self.push & (count == i)):
                m.d.sync += entry.eq(self.w_data)


class StandInCipher(wiring.Component):
    """A stand-in for ``XTSEngine(early_tweak=True, tag_width=0)``: the same members, lines
    in order (the n-th tweak pairs with the n-th data), any latency and stalls, and a cipher
    that is the identity on the untracked bits' zeros and XORs a pad into the tracked ones:
    ``pad_byte(data_key, tweak_key, tweak line, decrypt, key_bits)`` (invertible, and
    telling which key, tweak, direction and engine were used).

    Parameters
    ----------
    key_bits : int
        128 or 256.
    latency : int or None
        ``None``: each handshake and each output is free (``AnySeq``); an integer ``M``: a
        free choice, but forced after ``M`` cycles of waiting.
    slots : int
        Tweaks (and data) held at most.
    """

    def __init__(self, key_bits, *, latency=None, slots=2):
        self.key_bits = key_bits
        self.latency = latency
        self.slots = slots
        super().__init__({
            "i_tweak": In(stream.Signature(xts_tweak_layout(key_bits, Direction.BOTH, 0))),
            "i_stream": In(stream.Signature(data.StructLayout({"data": LINE_BITS}))),
            "o_stream": Out(stream.Signature(xts_response_layout(0))),
        })

    def elaborate(self, platform):
        m = Module()
        bits = self.key_bits
        request = self.i_tweak.payload
        pads = _Queue(m, 8, self.slots, "pads")
        datas = _Queue(m, 4 * TRACKED_BITS, self.slots, "datas")
        out = Signal(4 * TRACKED_BITS, name="out")
        out_valid = Signal(name="out_valid")
        take_tweak = eventually(m, self.i_tweak.valid & ~pads.full, self.latency, "go_tweak")
        take_data = eventually(m, self.i_stream.valid & ~datas.full, self.latency, "go_data")
        can_load = ~pads.empty & ~datas.empty & (~out_valid | self.o_stream.ready)
        load = eventually(m, can_load, self.latency, "go_out")
        line = request.tweak[LINE_OFFSET_BITS:LINE_OFFSET_BITS + 8]
        m.d.comb += [
            self.i_tweak.ready.eq(~pads.full & take_tweak),
            pads.push.eq(self.i_tweak.valid & self.i_tweak.ready),
            pads.w_data.eq(pad_byte(request.data_key[:8], request.tweak_key[:8], line,
                                    request.decrypt, bits)),
            self.i_stream.ready.eq(~datas.full & take_data),
            datas.push.eq(self.i_stream.valid & self.i_stream.ready),
            datas.w_data.eq(tracked(self.i_stream.payload.data)),
            pads.pop.eq(can_load & load),
            datas.pop.eq(can_load & load),
            self.o_stream.valid.eq(out_valid),
            self.o_stream.payload.data.eq(spread(out)),
        ]
        with m.If(can_load & load):
            m.d.sync += [out.eq(datas.head ^ replicate(pads.head, WORDS_PER_LINE)),
                         out_valid.eq(1)]
        with m.Elif(self.o_stream.ready):
            m.d.sync += out_valid.eq(0)
        return m


class _Ring:
    """A circular buffer of ``depth`` records in the specification, written at ``tail``;
    readers keep pointers of their own."""

    def __init__(self, layout, depth, name):
        self.depth = depth
        self.records = [Signal(layout, name=f"{name}{i}") for i in range(depth)]
        self.array = Array(self.records)
        self.name = name

    def at(self, pointer):
        return self.array[pointer]

    def pointer(self, m, advance, name):
        pointer = Signal(range(self.depth), name=f"{self.name}_{name}")
        with m.If(advance):
            m.d.sync += pointer.eq(Mux(pointer == self.depth - 1, 0, pointer + 1))
        return pointer


class MemorySideSpec(Elaboratable):
    """:class:`~memcrypt.gateware.memory_port.MemorySide` with stand-in ciphers in a free
    environment (see the module docstring), with the properties selected.

    Parameters
    ----------
    config : MemcryptConfig
    design : class
        ``MemorySide`` or a broken subclass.
    properties : tuple of str
        ``"axi"`` (manager rules, slots, ``writes_idle``), ``"order"`` (no stale fill),
        ``"keys"`` (write-back data under the handover key, addresses), ``"fills"`` (fill
        data and errors), ``"response"`` (bounded response, needs ``latency``).
    latency : int or None
        Environment latency ``M`` (memory, cache, fault log, stand-in cipher), or free.
    covers : bool
    """

    def __init__(self, config=CONFIG, *, design=MemorySide, properties=("axi",),
                 latency=None, bound=None, covers=False, fills=True, invariants=False):
        self.config = config
        self.invariants = invariants
        self.fills = fills
        self.latency = latency
        self.bound = bound
        self.properties = set(properties)
        self.covers = covers
        self.dut = design(config, engine_factory=lambda bits: StandInCipher(bits,
                                                                             latency=latency))
        self.sync = ClockDomain("sync")
        self.ports = [self.sync.clk]

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.sync
        reset = Initial()
        m.d.comb += ResetSignal("sync").eq(reset)
        config = self.config
        dut = self.dut
        fragment = Fragment.get(dut, platform)
        m.submodules.dut = fragment
        axi = dut.m_axi
        M = self.latency
        props = self.properties
        line_bits = config.line_address_bits
        keyid_bits = config.keyid_bits
        keyids = 1 << keyid_bits
        big_keys = 256 in config.key_sizes

        def address(line):
            return config.memory_base + Cat(C(0, LINE_OFFSET_BITS), line)

        # -- the cache side: free -------------------------------------------------------------
        wb_bytes = Signal(4 * TRACKED_BITS, name="wb_bytes")
        m.d.comb += [
            dut.fill_req.valid.eq(AnySeq(1) & ~reset & self.fills),
            dut.fill_req.payload.line.eq(AnySeq(line_bits)),
            dut.fill_req.payload.keyid.eq(AnySeq(keyid_bits)),
            dut.wb.valid.eq(AnySeq(1) & ~reset),
            dut.wb.payload.line.eq(AnySeq(line_bits)),
            dut.wb.payload.keyid.eq(AnySeq(keyid_bits)),
            wb_bytes.eq(AnySeq(len(wb_bytes))),
            dut.wb.payload.data.eq(spread(wb_bytes)),
            dut.fill_resp.ready.eq(eventually(m, dut.fill_resp.valid, M, "go_fill_resp")),
            dut.fault.ready.eq(eventually(m, dut.fault.valid, M, "go_fault")),
        ]
        fill_hs = Signal()
        wb_hs = Signal()
        resp_hs = Signal()
        m.d.comb += [
            fill_hs.eq(dut.fill_req.valid & dut.fill_req.ready),
            wb_hs.eq(dut.wb.valid & dut.wb.ready),
            resp_hs.eq(dut.fill_resp.valid & dut.fill_resp.ready),
        ]

        # -- the key table: per KeyID a mode, a size and a key byte; they change (all at
        # once, to any values) only in a cycle in which keys_bound is high -----------------
        modes = [Signal(2, name=f"mode{k}") for k in range(keyids)]
        sizes = [Signal(name=f"aes256_{k}") for k in range(keyids)]
        keys = [Signal(8, name=f"key{k}") for k in range(keyids)]
        fills_open = Signal(range(FILL_SLOTS + 2), name="fills_open")
        change = Signal(name="key_change")
        allowed = dut.keys_bound
        if "fills" in props:
            # A fill sees one key: in the controller no retirement (so no key change)
            # proceeds while the cache has a fill outstanding.
            allowed = allowed & (fills_open == 0) & ~fill_hs
        m.d.comb += change.eq(AnySeq(1) & allowed)
        with m.If(reset | change):
            for k in range(keyids):
                mode = AnySeq(2)
                m.d.sync += [
                    modes[k].eq(Mux(mode == 3, KeyMode.KEYED, mode)),
                    keys[k].eq(AnySeq(8)),
                ]
                if big_keys:
                    m.d.sync += sizes[k].eq(AnySeq(1))
        mode_of, size_of, key_of = Array(modes), Array(sizes), Array(keys)

        def expected_pad(keyid, line, decrypt):
            """The pad a line of ``keyid`` at ``line`` gets now (0: NO_ENCRYPT)."""
            key = key_of[keyid]
            pads = {bits: pad_byte(Mux(decrypt, decrypt_key_of(key), key), tweak_key_of(key),
                                   Cat(line, C(0, 8 - line_bits)), decrypt, bits)
                    for bits in config.key_sizes}
            if len(config.key_sizes) == 1:
                pad = pads[config.key_sizes[0]]
            else:
                pad = Mux(size_of[keyid], pads[256], pads[128])
            return Mux(mode_of[keyid] == KeyMode.NO_ENCRYPT, 0, pad)

        lookup = dut.lookup
        stages = [(Signal(name=f"lookup{i}_valid"), Signal(keyid_bits, name=f"lookup{i}_keyid"))
                  for i in range(LOOKUP_LATENCY)]
        previous = (lookup.valid, lookup.keyid)
        for valid, keyid in stages:
            m.d.sync += [valid.eq(previous[0] & ~reset), keyid.eq(previous[1])]
            previous = (valid, keyid)
        answer_keyid = stages[-1][1]
        key = key_of[answer_keyid]
        key_bytes = config.key_bits // 8
        m.d.comb += [
            lookup.result_valid.eq(stages[-1][0]),
            lookup.result_keyid.eq(answer_keyid),
            lookup.result_invalid.eq(0),
            lookup.result.mode.eq(mode_of[answer_keyid]),
            lookup.result.aes256.eq(size_of[answer_keyid] if big_keys else 0),
            lookup.result.data_key.eq(replicate(key, key_bytes)),
            lookup.result.tweak_key.eq(replicate(tweak_key_of(key), key_bytes)),
            lookup.result.decrypt_key.eq(replicate(decrypt_key_of(key), key_bytes)),
        ]

        # -- memory: any ready timing, answers in order, any response ---------------------------
        ar_hs, aw_hs, w_hs, r_hs, b_hs = (Signal(name=n) for n in
                                         ("ar_hs", "aw_hs", "w_hs", "r_hs", "b_hs"))
        m.d.comb += [
            axi.arready.eq(eventually(m, axi.arvalid, M, "go_ar")),
            axi.awready.eq(eventually(m, axi.awvalid, M, "go_aw")),
            axi.wready.eq(eventually(m, axi.wvalid, M, "go_w")),
            ar_hs.eq(axi.arvalid & axi.arready),
            aw_hs.eq(axi.awvalid & axi.awready),
            w_hs.eq(axi.wvalid & axi.wready),
            r_hs.eq(axi.rvalid & axi.rready),
            b_hs.eq(axi.bvalid & axi.bready),
        ]
        wide = WRITE_SLOTS + 2
        ar_open = Signal(range(wide), name="ar_open")       # ARs not fully answered
        aw_open = Signal(range(wide), name="aw_open")       # AWs not answered by B
        w_open = Signal(range(wide), name="w_open")         # W bursts not answered by B
        r_beat = Signal(2, name="r_beat")
        w_beat = Signal(2, name="w_beat")
        r_last = r_beat == WORDS_PER_LINE - 1
        w_last = w_beat == WORDS_PER_LINE - 1
        m.d.sync += [
            ar_open.eq(ar_open + ar_hs - (r_hs & r_last)),
            aw_open.eq(aw_open + aw_hs - b_hs),
            w_open.eq(w_open + (w_hs & w_last) - b_hs),
        ]
        with m.If(r_hs):
            m.d.sync += r_beat.eq(r_beat + 1)
        with m.If(w_hs):
            m.d.sync += w_beat.eq(w_beat + 1)
        # R: a beat is owed while an AR is open; once offered it holds until RREADY.
        r_held = Signal(name="r_held")
        r_bytes = Signal(4 * TRACKED_BITS // 4, name="r_byte")
        r_resp = Signal(2, name="r_resp_now")
        r_last_byte = Signal(8, name="r_byte_last")
        r_last_resp = Signal(2, name="r_resp_last")
        r_go = eventually(m, (ar_open != 0) & ~r_held, M, "go_r")
        m.d.comb += [
            axi.rvalid.eq(r_held | ((ar_open != 0) & r_go)),
            r_bytes.eq(Mux(r_held, r_last_byte, AnySeq(8))),
            r_resp.eq(Mux(r_held, r_last_resp, AnySeq(2))),
            axi.rdata.eq(Cat(r_bytes, C(0, UNTRACKED))),
            axi.rresp.eq(r_resp),
            axi.rlast.eq(r_last),
        ]
        m.d.sync += [r_held.eq(axi.rvalid & ~axi.rready), r_last_byte.eq(r_bytes),
                     r_last_resp.eq(r_resp)]
        # B: owed once an AW and its four W beats are in; holds until BREADY.
        b_held = Signal(name="b_held")
        b_resp = Signal(2, name="b_resp_now")
        b_last_resp = Signal(2, name="b_resp_last")
        b_owed = (aw_open != 0) & (w_open != 0)
        b_go = eventually(m, b_owed & ~b_held, M, "go_b")
        m.d.comb += [
            axi.bvalid.eq(b_held | (b_owed & b_go)),
            b_resp.eq(Mux(b_held, b_last_resp, AnySeq(2))),
            axi.bresp.eq(b_resp),
        ]
        m.d.sync += [b_held.eq(axi.bvalid & ~axi.bready), b_last_resp.eq(b_resp)]

        # -- write-backs in order: handed over, AW, W, B -----------------------------------------
        wb_layout = data.StructLayout({"line": line_bits, "expected": 4 * TRACKED_BITS})
        wbs = _Ring(wb_layout, WRITE_SLOTS, "wb")
        wb_tail = wbs.pointer(m, wb_hs, "tail")
        wb_aw = wbs.pointer(m, aw_hs, "aw")
        wb_w = wbs.pointer(m, w_hs & w_last, "w")
        wb_b = wbs.pointer(m, b_hs, "b")
        wb_open = Signal(range(WRITE_SLOTS + 2), name="wb_open")        # to B
        wb_no_aw = Signal(range(WRITE_SLOTS + 2), name="wb_no_aw")      # to AW
        wb_no_w = Signal(range(WRITE_SLOTS + 2), name="wb_no_w")        # to the last W
        m.d.sync += [
            wb_open.eq(wb_open + wb_hs - b_hs),
            wb_no_aw.eq(wb_no_aw + wb_hs - aw_hs),
            wb_no_w.eq(wb_no_w + wb_hs - (w_hs & w_last)),
        ]
        with m.If(wb_hs):
            record = wbs.at(wb_tail)
            payload = dut.wb.payload
            m.d.sync += [
                record.line.eq(payload.line),
                record.expected.eq(wb_bytes ^ replicate(
                    expected_pad(payload.keyid, payload.line, 0), WORDS_PER_LINE)),
            ]

        # -- fills in order: taken, AR, R beats, answered ----------------------------------------
        fill_layout = data.StructLayout({"line": line_bits, "keyid": keyid_bits,
                                         "read": 4 * TRACKED_BITS, "error": 1})
        fills = _Ring(fill_layout, FILL_SLOTS, "fill")
        fill_tail = fills.pointer(m, fill_hs, "tail")
        fill_ar = fills.pointer(m, ar_hs, "ar")
        fill_r = fills.pointer(m, r_hs & r_last, "r")
        fill_resp = fills.pointer(m, resp_hs, "resp")
        fills_no_ar = Signal(range(FILL_SLOTS + 2), name="fills_no_ar")
        fills_read = Signal(range(FILL_SLOTS + 2), name="fills_read")   # R done, not answered
        m.d.sync += [
            fills_open.eq(fills_open + fill_hs - resp_hs),
            fills_no_ar.eq(fills_no_ar + fill_hs - ar_hs),
            fills_read.eq(fills_read + (r_hs & r_last) - resp_hs),
        ]
        with m.If(fill_hs):
            record = fills.at(fill_tail)
            m.d.sync += [record.line.eq(dut.fill_req.payload.line),
                         record.keyid.eq(dut.fill_req.payload.keyid)]
        with m.If(r_hs):
            record = fills.at(fill_r)
            for beat in range(WORDS_PER_LINE):
                with m.If(r_beat == beat):
                    m.d.sync += record.read[8 * beat:8 * beat + 8].eq(r_bytes)
            m.d.sync += record.error.eq(Mux(r_beat == 0, 0, record.error) |
                                        (r_resp != Response.OKAY))

        # -- properties -------------------------------------------------------------------------
        if "axi" in props:
            self._axi_rules(m, axi, reset, w_beat, ar_open, aw_open, w_open, address)
            m.d.comb += Assert(dut.writes_idle == (wb_open == 0), "writes_idle")
            with m.If(wb_hs):
                m.d.comb += Assert(wb_open < WRITE_SLOTS, "within_write_slots")
            with m.If(fill_hs):
                m.d.comb += Assert(fills_open < FILL_SLOTS, "within_fill_slots")

        if "order" in props:
            line_l = Signal(line_bits, name="line_l")
            m.d.comb += line_l.eq(AnyConst(line_bits))
            pending = []
            for i, record in enumerate(wbs.records):
                live = ((C(i + WRITE_SLOTS, 4) - wb_b) % WRITE_SLOTS) < wb_open
                pending.append(live & (record.line == line_l))
            self.pending_l = Signal(name="wb_of_l_pending")
            m.d.comb += self.pending_l.eq(Cat(*pending).any())
            with m.If(axi.arvalid & (axi.araddr == address(line_l))):
                m.d.comb += Assert(~self.pending_l, "no_stale_fill")

        if "keys" in props:
            with m.If(axi.awvalid):
                m.d.comb += Assert((wb_no_aw != 0) & (axi.awaddr == address(wbs.at(wb_aw).line)),
                                   "write_back_address")
            hold(m, axi.wvalid, axi.wready, [axi.wdata[:TRACKED_BITS]], Assert, "wdata_holds")
            with m.If(axi.wvalid):
                expected = wbs.at(wb_w).expected
                m.d.comb += Assert(wb_no_w != 0, "no_write_without_write_back")
                m.d.comb += Assert(axi.wdata[:TRACKED_BITS] ==
                                   Array(expected[8 * b:8 * b + 8] for b in range(4))[w_beat],
                                   "write_back_key")

        if "fills" in props:
            with m.If(axi.arvalid):
                m.d.comb += Assert((fills_no_ar != 0) &
                                   (axi.araddr == address(fills.at(fill_ar).line)),
                                   "fill_address")
            hold(m, dut.fill_resp.valid, dut.fill_resp.ready,
                 [tracked(dut.fill_resp.payload.data), dut.fill_resp.payload.error], Assert,
                 "fill_resp_holds")
            with m.If(dut.fill_resp.valid):
                record = fills.at(fill_resp)
                m.d.comb += Assert(fills_read != 0, "no_fill_response_from_nothing")
                m.d.comb += Assert(dut.fill_resp.payload.error == record.error, "fill_error")
                expected = record.read ^ replicate(expected_pad(record.keyid, record.line, 1),
                                                   WORDS_PER_LINE)
                with m.If(~record.error):
                    m.d.comb += Assert(tracked(dut.fill_resp.payload.data) == expected,
                                       "fill_data")

        if "response" in props:
            assert M is not None
            self._response(m, wbs, wb_tail, wb_b, wb_hs, b_hs, wb_open,
                           fills, fill_tail, fill_resp, fill_hs, resp_hs, fills_open)

        if self.invariants:
            # The memory model's own: a response held is one owed.
            m.d.comb += [Assert(~b_held | b_owed), Assert(~r_held | (ar_open != 0))]
            self._invariants(m, Probe(fragment), dict(
                wbs=wbs, wb_tail=wb_tail, wb_aw=wb_aw, wb_w=wb_w, wb_b=wb_b, wb_open=wb_open,
                wb_no_aw=wb_no_aw, wb_no_w=wb_no_w, fills_open=fills_open, ar_open=ar_open,
                aw_open=aw_open, w_open=w_open, r_beat=r_beat, w_beat=w_beat))
        if self.covers:
            self._covers(m, dut, axi, wbs, wb_b, wb_open, fill_hs, resp_hs, b_hs, change,
                         ar_open, big_keys)
        return m

    def _invariants(self, m, probe, h):
        """White-box facts for k-induction of ``axi`` and ``order`` (asserted, never
        assumed): the write tracker is the specification's ring of write-backs in flight;
        every write-back in flight is in the key stage, in the route FIFO, in the write stage
        or waiting for B, as the specification's AW and W counts say; every fill in flight is
        in the key stage or in the route FIFO, and the open reads are the fills read and not
        delivered; a fill in the key stage has no write-back of its line in flight."""
        config = self.config
        fsm = probe.signal("key_stage_state")
        encoding = {}
        for value in range(1 << len(fsm)):
            try:
                encoding[fsm.decoder(value).split("/")[0]] = value
            except (KeyError, ValueError):
                continue

        def at(*names):
            return Cat(*(fsm == encoding[name] for name in names)).any()

        write = probe.signal("stage_write")
        stage_line = probe.signal("stage_line")
        wbs, wb_b, wb_open = h["wbs"], h["wb_b"], h["wb_open"]
        live = [Signal(name=f"wb{i}_live") for i in range(WRITE_SLOTS)]
        for i in range(WRITE_SLOTS):
            m.d.comb += live[i].eq(((C(i + WRITE_SLOTS, 4) - wb_b) % WRITE_SLOTS) < wb_open)
        slot_valid = probe.signal("wb_slot_valid")
        m.d.comb += [
            Assert(wb_open <= WRITE_SLOTS),
            Assert(probe.signal("wb_slot_head") == wb_b),
            Assert(probe.signal("wb_slot_tail") == h["wb_tail"]),
            Assert(h["wb_tail"] == (wb_b + wb_open)[:2]),
            Assert(h["wb_aw"] == (wb_b + h["aw_open"])[:2]),
            Assert(h["wb_w"] == (wb_b + h["w_open"])[:2]),
            Assert(h["aw_open"] == wb_open - h["wb_no_aw"]),
            Assert(h["w_open"] == wb_open - h["wb_no_w"]),
            Assert((h["wb_no_aw"] <= wb_open) & (h["wb_no_w"] <= wb_open)),
        ]
        for i in range(WRITE_SLOTS):
            m.d.comb += Assert(slot_valid[i] == live[i])
            with m.If(live[i]):
                m.d.comb += Assert(probe.signal(f"wb_slot{i}_line") == wbs.records[i].line)
        with m.If(at("ISSUE_WRITE_BACK")):
            m.d.comb += Assert(write)
        with m.If(at("ISSUE_FILL")):
            m.d.comb += Assert(~write)
        # Where each write-back and fill is.
        routes = probe.sub("routes")
        route_bits = len(config.key_sizes).bit_length()
        inner = routes.signal("inner_level")
        consume = routes.signal("consume")
        produce = routes.signal("produce")
        stored = FILL_SLOTS + WRITE_SLOTS - 1
        words = [routes.memory_read("storage", C(i, 3), label=f"routes_word{i}")
                 for i in range(stored)]
        out = routes.signal("r_data")
        out_valid = routes.signal("r_rdy", 1)
        writes = [Signal(name=f"routes_write{i}") for i in range(stored)]
        fills = [Signal(name=f"routes_fill{i}") for i in range(stored)]
        for i in range(stored):
            here = ((C(i + stored, 4) - consume) % stored) < inner
            m.d.comb += [writes[i].eq(here & words[i][route_bits]),
                         fills[i].eq(here & ~words[i][route_bits])]
        routed_writes = Signal(range(stored + 2), name="routed_writes")
        routed_fills = Signal(range(stored + 2), name="routed_fills")
        m.d.comb += [
            routed_writes.eq(sum(writes) + (out_valid & out[route_bits])),
            routed_fills.eq(sum(fills) + (out_valid & ~out[route_bits])),
            Assert(inner <= stored),
            Assert(produce == (consume + inner) % stored),
        ]

        def routed(route, kind=None):
            """Entries of the route FIFO for ``route`` (and of ``kind``: 1 write, 0 fill)."""
            terms = []
            for i in range(stored):
                here = ((C(i + stored, 4) - consume) % stored) < inner
                match = here & (words[i][:route_bits] == route)
                if kind is not None:
                    match = match & (words[i][route_bits] == kind)
                terms.append(match)
            match = out_valid & (out[:route_bits] == route)
            if kind is not None:
                match = match & (out[route_bits] == kind)
            terms.append(match)
            count = Signal(range(stored + 2), name=f"routed_{route}_{kind}")
            m.d.comb += count.eq(sum(terms))
            return count

        # Each engine holds the tweaks of its route's entries, and the data of all but the
        # fills still waiting for theirs; the bypass holds write-backs' data, and fills'
        # once read. The fills whose data is not yet delivered are in fill_meta.
        meta = probe.sub("fill_meta")
        meta_level = meta.signal("level")
        meta_inner = meta.signal("inner_level")
        meta_consume = meta.signal("consume")
        meta_words = [meta.memory_read("storage", C(i, 1), label=f"fill_meta_word{i}")
                      for i in range(FILL_SLOTS)]
        meta_out = meta.signal("r_data")
        meta_out_valid = meta.signal("r_rdy", 1)
        m.d.comb += [Assert(meta_inner <= FILL_SLOTS),
                     Assert(meta.signal("produce") == (meta_consume + meta_inner)[0])]

        def metas(route):
            terms = [meta_out_valid & (meta_out[:route_bits] == route)]
            for i in range(FILL_SLOTS):
                here = ((C(i + FILL_SLOTS, 3) - meta_consume) % FILL_SLOTS) < meta_inner
                terms.append(here & (meta_words[i][:route_bits] == route))
            count = Signal(range(FILL_SLOTS + 2), name=f"meta_{route}")
            m.d.comb += count.eq(sum(terms))
            return count

        # The route FIFO's entries in order (0: the oldest).
        level = routes.signal("level")
        ordered = []
        for j in range(stored + 1):
            if j == 0:
                entry = Mux(out_valid, out, Array(words)[consume])
            else:
                entry = Mux(out_valid, Array(words)[(consume + j - 1) % stored],
                            Array(words)[(consume + j) % stored])
            word = Signal(len(out), name=f"routes_entry{j}")
            m.d.comb += word.eq(entry)
            ordered.append((j < level, word))
        engine_slots = 2
        for index, bits in enumerate(config.key_sizes):
            route = index + 1
            engine = probe.sub(f"engine{bits}")
            pads = engine.signal("pads_count")
            datas = engine.signal("datas_count")
            held = engine.signal("out_valid")
            awaiting = probe.signal(f"engine{bits}_awaiting_data")
            stage_route = probe.signal("stage_route")
            tweak_sent = probe.signal("tweak_sent")
            data_sent = probe.signal("data_sent")
            issuing_wb = at("ISSUE_WRITE_BACK") & (stage_route == route)
            issuing_fill = at("ISSUE_FILL") & (stage_route == route)
            # The fills waiting there for their data are its youngest entries (after the
            # fill being issued, if its tweak is in).
            routed_waiting = Signal(range(FILL_SLOTS + 2), name=f"engine{bits}_routed_waiting")
            m.d.comb += routed_waiting.eq(awaiting - (issuing_fill & tweak_sent))
            for j, (valid, word) in enumerate(ordered):
                younger = sum((v & (w[:route_bits] == route)) for v, w in ordered[j + 1:]) \
                    if j + 1 < len(ordered) else C(0, 1)
                with m.If(valid & (word[:route_bits] == route) & (younger < routed_waiting)):
                    m.d.comb += Assert(~word[route_bits])
            with m.If(issuing_wb & (tweak_sent | data_sent)):
                m.d.comb += Assert((awaiting == 0) & ~(tweak_sent & data_sent))
            m.d.comb += [
                Assert((pads <= engine_slots) & (datas <= engine_slots)),
                Assert(pads + held == routed(route) + ((issuing_wb | issuing_fill) & tweak_sent)),
                Assert(datas + held + awaiting ==
                       routed(route) + (issuing_wb & data_sent) + (issuing_fill & tweak_sent)),
                Assert(metas(route) + (issuing_fill & tweak_sent) == awaiting),
            ]
        m.d.comb += [
            Assert(routed(0, 1) == probe.sub("write_plain").signal("level")),
            Assert(routed(0, 0) == probe.sub("fill_plain").signal("level") + metas(0)),
        ]
        busy = probe.signal("w_busy")
        address_sent = probe.signal("w_address_sent")
        beats_done = probe.signal("w_beats_done")
        staged_write = at("LOOKUP", "ISSUE_WRITE_BACK") & write
        staged_fill = at("LOOKUP", "ISSUE_FILL") & ~write
        m.d.comb += [
            Assert(h["wb_no_aw"] == staged_write + routed_writes + (busy & ~address_sent)),
            Assert(h["wb_no_w"] == staged_write + routed_writes + (busy & ~beats_done)),
            Assert(h["w_beat"] == probe.signal("w_beat")),
            Assert(~(busy & beats_done) | (h["w_beat"] == 0)),
            Assert(busy | (h["w_beat"] == 0)),
            Assert(~busy | ~address_sent | ~beats_done),
        ]
        in_flight = probe.signal("fills_in_flight")
        fill_address_sent = probe.signal("address_sent")
        complete = probe.signal("r_complete")
        m.d.comb += [
            Assert(routed_fills == in_flight),
            Assert(h["fills_open"] == in_flight + staged_fill),
            Assert(in_flight <= FILL_SLOTS),
            Assert(~staged_fill | (in_flight < FILL_SLOTS)),
            Assert(meta_level <= in_flight),
            Assert(h["ar_open"] + complete ==
                   meta_level + (at("ISSUE_FILL") & fill_address_sent)),
            Assert(h["r_beat"] == probe.signal("r_beat")),
            Assert(~complete | (h["r_beat"] == 0)),
        ]
        # A fill in the key stage has no write-back of its line in flight.
        with m.If(staged_fill | at("ISSUE_FILL")):
            for i in range(WRITE_SLOTS):
                m.d.comb += Assert(~live[i] | (wbs.records[i].line != stage_line))

    def _covers(self, m, dut, axi, wbs, wb_b, wb_open, fill_hs, resp_hs, b_hs, change,
                ar_open, big_keys):
        """Not vacuous: fills answered (decrypted, plaintext, with an error), write-backs
        answered (with an error), encrypted, a key change while a write-back is in flight, a
        fill held back by a write-back of its line and then read, both fill slots and every
        write slot in use, a fault logged."""
        resp = dut.fill_resp.payload
        changed = Signal(name="cover_changed")
        with m.If(change & (wb_open != 0)):
            m.d.sync += changed.eq(1)
        conflict = Signal(name="cover_conflict")
        m.d.comb += conflict.eq(Cat(*(
            (((C(i + WRITE_SLOTS, 4) - wb_b) % WRITE_SLOTS) < wb_open) &
            (record.line == dut.fill_req.payload.line)
            for i, record in enumerate(wbs.records))).any())
        held_line = Signal(self.config.line_address_bits, name="cover_held_line")
        held = Signal(name="cover_held")
        with m.If(dut.fill_req.valid & ~dut.fill_req.ready & conflict):
            m.d.sync += [held.eq(1), held_line.eq(dut.fill_req.payload.line)]
        m.d.comb += [
            Cover(resp_hs & ~resp.error & dut.decrypted),
            Cover(resp_hs & ~resp.error & ~dut.decrypted),
            Cover(resp_hs & resp.error),
            Cover(b_hs & (axi.bresp != Response.OKAY)),
            Cover(dut.encrypted),
            Cover(b_hs & changed),
            Cover(axi.arvalid & held &
                  (axi.araddr[LINE_OFFSET_BITS:] ==
                   (self.config.memory_base >> LINE_OFFSET_BITS) + held_line)),
            Cover(ar_open == FILL_SLOTS),
            Cover(wb_open == WRITE_SLOTS),
            Cover(dut.fault.valid & dut.fault.ready),
        ]
        if big_keys:
            for engine in dut._engines.values():
                m.d.comb += Cover(engine.o_stream.valid & engine.o_stream.ready)

    def _axi_rules(self, m, axi, reset, w_beat, ar_open, aw_open, w_open, address):
        config = self.config
        with m.If(reset):
            m.d.comb += Assert(~axi.arvalid & ~axi.awvalid & ~axi.wvalid, "valid_low_in_reset")
        for prefix in ("ar", "aw"):
            fields = [getattr(axi, prefix + name) for name in
                      ("id", "addr", "len", "size", "burst", "lock", "cache", "prot", "qos")]
            valid = getattr(axi, prefix + "valid")
            hold(m, valid, getattr(axi, prefix + "ready"), fields, Assert, f"{prefix}_holds")
            addr = getattr(axi, prefix + "addr")
            with m.If(valid):
                m.d.comb += Assert(
                    (getattr(axi, prefix + "len") == LINE_AXLEN) &
                    (getattr(axi, prefix + "size") == LINE_AXSIZE) &
                    (getattr(axi, prefix + "burst") == Burst.INCR) &
                    (addr[:LINE_OFFSET_BITS] == 0) &
                    (addr >= config.memory_base) &
                    (addr < config.memory_base + config.mem_bytes),
                    f"{prefix}_line_burst")
        hold(m, axi.wvalid, axi.wready, [axi.wstrb, axi.wlast], Assert, "w_holds")
        with m.If(axi.wvalid):
            m.d.comb += Assert((axi.wlast == (w_beat == WORDS_PER_LINE - 1)) &
                               (axi.wstrb == (1 << (WORD_BITS // 8)) - 1), "w_last_on_fourth")
        # Four W beats per AW: AWs and W bursts never more than one apart.
        m.d.comb += [
            Assert((aw_open <= w_open + 1) & (w_open <= aw_open + 1), "one_w_burst_per_aw"),
            Assert(ar_open <= FILL_SLOTS, "reads_within_fill_slots"),
            Assert((aw_open <= WRITE_SLOTS) & (w_open <= WRITE_SLOTS),
                   "writes_within_write_slots"),
        ]

    def _response(self, m, wbs, wb_tail, wb_b, wb_hs, b_hs, wb_open,
                  fills, fill_tail, fill_resp, fill_hs, resp_hs, fills_open):
        """Ages of the write-backs (to B) and fills (to their answer) in flight: each
        completes at most ``bound`` cycles after it was taken."""
        bound = self.bound
        for ring, tail, head, push, pop, count, what in (
                (wbs, wb_tail, wb_b, wb_hs, b_hs, wb_open, "write_back"),
                (fills, fill_tail, fill_resp, fill_hs, resp_hs, fills_open, "fill")):
            depth = ring.depth
            for i in range(depth):
                age = Signal(range(bound + 2), name=f"{what}{i}_age")
                live = Signal(name=f"{what}{i}_live")
                m.d.comb += live.eq(((C(i + depth, 4) - head) % depth) < count)
                with m.If(push & (tail == i)):
                    m.d.sync += age.eq(1)
                with m.Elif(live & (age <= bound)):
                    m.d.sync += age.eq(age + 1)
                completing = pop & (head == i)
                with m.If(live & ~completing):
                    m.d.comb += Assert(age < bound, f"{what}_within_bound")
                if self.covers:
                    m.d.comb += Cover(live & completing & (age == bound))



# -- The host port ------------------------------------------------------------------------------

#: The host port's build: 15-bit addresses with a 2-bit KeyID, so 13-bit stripped addresses
#: (a 4 KiB boundary inside memory and an address bit above it, as in every real build);
#: KeyID 3 has no key storage and memory ends at 6 KiB, so that each refusal can happen.
HOST_CONFIG = MemcryptConfig(phys_addr_bits=15, keyid_bits=2, num_keys=3, mem_bytes=6144,
                             key_sizes=(128,), cache_ways=1, cache_sets=1, host_id_width=2,
                             memory_id_width=1, fault_log_depth=2, entropy_timeout=4,
                             name="formal-host")
#: Bursts a direction holds at most: the queue and the one being served.
HOST_OPEN = QUEUE_DEPTH + 1
#: Bytes of the cache's read data that are tracked (0 and 15; the others are zero).
READ_TRACKED = (0, 15)


def _read_word(bytes_):
    """A 128-bit word whose tracked bytes (:data:`READ_TRACKED`) are ``bytes_``."""
    parts = []
    position = 0
    for index, byte in enumerate(READ_TRACKED):
        if byte > position:
            parts.append(C(0, 8 * (byte - position)))
        parts.append(bytes_[8 * index:8 * index + 8])
        position = byte + 1
    if position < 16:
        parts.append(C(0, 8 * (16 - position)))
    return Cat(*parts)


class _Current:
    """The burst a direction answers: its request's fields and its refusal and fault kind
    (computed from them)."""

    def __init__(self, record, refusal, kind):
        self._record = record
        self.refusal = refusal
        self.kind = kind

    def __getattr__(self, name):
        return getattr(self._record, name)


def _v(value):
    """The plain value of an enum view (views compare only with their own enum)."""
    return value.as_value() if hasattr(value, "as_value") else value


class HostPortSpec(Elaboratable):
    """:class:`~memcrypt.gateware.host_port.AXI4HostPort` under a free AXI4 manager and a free
    cache (see the module docstring)."""

    def __init__(self, config=HOST_CONFIG, *, covers=False, invariants=False):
        self.config = config
        self.covers = covers
        self.invariants = invariants
        self.dut = AXI4HostPort(config)
        self.sync = ClockDomain("sync")
        self.ports = [self.sync.clk]

    def reference(self, m, record, n, prefix):
        """The AMBA reference for beat ``n`` of burst ``record``: its stripped address and
        byte lanes (A3.4.2, A3.4.3), computed here independently of the design."""
        config = self.config
        bits = config.stripped_bits
        start = record.addr[:bits]
        size = record.size
        step = Signal(range(17), name=f"{prefix}_bytes")
        m.d.comb += step.eq(Mux(size <= 4, C(1, 5) << size[:3], 16))
        aligned = Signal(bits, name=f"{prefix}_aligned")
        m.d.comb += aligned.eq(start & ~(step - 1))
        offset = Signal(bits + 13, name=f"{prefix}_offset")          # n * bytes
        m.d.comb += offset.eq(n << size[:3])
        total = Signal(bits + 13, name=f"{prefix}_total")            # (len + 1) * bytes
        m.d.comb += total.eq((record.len + 1) << size[:3])
        address = Signal(bits, name=f"{prefix}_address")
        with m.Switch(record.burst):
            with m.Case(Burst.FIXED):
                m.d.comb += address.eq(start)
            with m.Case(Burst.WRAP):
                boundary = start & ~(total - 1)
                m.d.comb += address.eq(boundary | ((start + offset) & (total - 1)))
            with m.Default():
                m.d.comb += address.eq(Mux(n == 0, start, aligned + offset))
        low = address[:4]
        high = Signal(5, name=f"{prefix}_lanes_end")
        m.d.comb += high.eq((address & ~(step - 1))[:4] + step)
        lanes = Signal(16, name=f"{prefix}_lanes")
        m.d.comb += lanes.eq(Cat(*((low <= j) & (j < high) for j in range(16))))
        return address, lanes

    def refusal(self, m, record, prefix):
        """The response (OKAY: accepted) and fault kind AMBA and the build give the burst
        ``record``, computed here from the request."""
        config = self.config
        bits = config.stripped_bits
        addr = record.addr
        length = record.len
        size = record.size
        burst = record.burst
        start = addr[:bits]
        keyid = addr[bits:]
        step = Mux(size <= 4, C(1, 5) << size[:3], 16)
        aligned = Signal(bits, name=f"{prefix}_ref_aligned")
        m.d.comb += aligned.eq(start & ~(step - 1))
        total = Signal(bits + 13, name=f"{prefix}_ref_total")
        m.d.comb += total.eq((length + 1) << size[:3])
        last = Signal(bits + 14, name=f"{prefix}_ref_last")          # the highest byte
        with m.Switch(burst):
            with m.Case(Burst.FIXED):
                m.d.comb += last.eq(aligned + step - 1)
            with m.Case(Burst.WRAP):
                m.d.comb += last.eq((start & ~(total - 1)) + total - 1)
            with m.Default():
                m.d.comb += last.eq(aligned + total - 1)
        protocol = Signal(name=f"{prefix}_ref_protocol")
        wrap_lengths = (length == 1) | (length == 3) | (length == 7) | (length == 15)
        m.d.comb += protocol.eq(
            (size > 4) | (burst == 0b11) |
            ((burst == Burst.WRAP) & (~wrap_lengths | (start != aligned))) |
            ((burst == Burst.FIXED) & (length > 15)) |
            ((burst == Burst.INCR) & (last[12:] != start[12:])))
        response = Signal(Response, name=f"{prefix}_ref_response")
        kind = Signal(4, name=f"{prefix}_ref_kind")
        with m.If(protocol):
            m.d.comb += [response.eq(Response.SLVERR), kind.eq(FaultKind.PROTOCOL_ERROR)]
        with m.Elif(keyid >= config.num_keys):
            m.d.comb += [response.eq(Response.DECERR), kind.eq(FaultKind.INVALID_KEYID)]
        with m.Elif(last >= config.mem_bytes):
            m.d.comb += [response.eq(Response.DECERR), kind.eq(FaultKind.OUT_OF_RANGE)]
        with m.Else():
            m.d.comb += [response.eq(Response.OKAY), kind.eq(0)]
        return response, kind

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.sync
        reset = Initial()
        m.d.comb += ResetSignal("sync").eq(reset)
        config = self.config
        dut = self.dut
        fragment = Fragment.get(dut, platform)
        m.submodules.dut = fragment
        axi = dut.s_axi
        id_width = config.host_id_width

        # -- the manager: free, keeping its rules (valids low in reset, VALID and payload held
        # until READY); bursts legal or not; WLAST free (the port counts beats from AxLEN) --
        w_bytes = Signal(8 * len(READ_TRACKED), name="w_bytes")
        m.d.comb += [w_bytes.eq(AnySeq(len(w_bytes))), axi.wdata.eq(_read_word(w_bytes))]
        for name in ("awid", "awaddr", "awlen", "awsize", "awburst", "awlock", "awcache",
                     "awprot", "awqos", "awvalid", "wstrb", "wlast", "wvalid",
                     "bready", "arid", "araddr", "arlen", "arsize", "arburst", "arlock",
                     "arcache", "arprot", "arqos", "arvalid", "rready"):
            signal = getattr(axi, name)
            m.d.comb += signal.eq(AnySeq(len(Value.cast(signal))))
        m.d.comb += Assume(~(reset & (axi.awvalid | axi.wvalid | axi.arvalid)))
        for prefix in ("aw", "ar"):
            fields = [getattr(axi, prefix + name) for name in
                      ("id", "addr", "len", "size", "burst", "lock", "cache", "prot", "qos")]
            hold(m, getattr(axi, prefix + "valid"), getattr(axi, prefix + "ready"), fields,
                 Assume, f"{prefix}_manager_holds")
        hold(m, axi.wvalid, axi.wready, [axi.wdata, axi.wstrb, axi.wlast], Assume,
             "w_manager_holds")
        m.d.comb += dut.enable.eq(AnySeq(1))

        # -- the cache: takes requests when it likes, answers each in order --------------------
        req, resp = dut.req, dut.resp
        req_hs = Signal(name="req_hs")
        resp_hs = Signal(name="resp_hs")
        asked = Signal(name="req_open")
        asked_write = Signal(name="req_open_write")
        resp_bytes = Signal(8 * len(READ_TRACKED), name="resp_bytes")
        m.d.comb += [
            req.ready.eq(AnySeq(1)),
            req_hs.eq(req.valid & req.ready),
            resp.valid.eq(asked & AnySeq(1)),
            resp_bytes.eq(AnySeq(len(resp_bytes))),
            resp.payload.data.eq(_read_word(resp_bytes)),
            resp.payload.error.eq(AnySeq(1)),
            resp.payload.write.eq(asked_write),
            resp_hs.eq(resp.valid & resp.ready),
            dut.fault.ready.eq(AnySeq(1)),
        ]
        with m.If(req_hs):
            m.d.sync += [asked.eq(1), asked_write.eq(req.payload.write)]
        with m.Elif(resp_hs):
            m.d.sync += asked.eq(0)
        with m.If(req_hs):
            m.d.comb += Assert(~asked | resp_hs, "one_request_at_a_time")
        # Valid and payload hold until ready; data and strobes matter for writes only (a read
        # request carries whatever is on WDATA).
        payload = req.payload
        hold(m, req.valid, req.ready, [payload.address, payload.keyid, payload.write,
                                       Mux(payload.write, Cat(payload.data, payload.strobe), 0)],
             Assert, "req_holds")

        # -- bursts in order, per direction --------------------------------------------------
        layout = data.StructLayout({
            "id": max(1, id_width), "addr": config.phys_addr_bits, "len": 8, "size": 3,
            "burst": 2})
        state = {}
        for direction, prefix in (("read", "ar"), ("write", "aw")):
            ring = _Ring(layout, HOST_OPEN, direction)
            valid = getattr(axi, prefix + "valid")
            taken = Signal(name=f"{prefix}_hs")
            m.d.comb += taken.eq(valid & getattr(axi, prefix + "ready"))
            done = Signal(name=f"{direction}_done")            # its last response, taken
            tail = ring.pointer(m, taken, "tail")
            head = ring.pointer(m, done, "head")
            opened = Signal(range(HOST_OPEN + 2), name=f"{direction}_open")
            m.d.sync += opened.eq(opened + taken - done)
            with m.If(taken):
                record = ring.at(tail)
                m.d.sync += [
                    record.addr.eq(getattr(axi, prefix + "addr")),
                    record.len.eq(getattr(axi, prefix + "len")),
                    record.size.eq(getattr(axi, prefix + "size")),
                    record.burst.eq(getattr(axi, prefix + "burst")),
                ]
                if id_width:
                    m.d.sync += record.id.eq(getattr(axi, prefix + "id"))
                m.d.comb += Assert(opened < HOST_OPEN, f"{direction}_queue_bounded")
            current = Signal(layout, name=f"{direction}_current")
            m.d.comb += current.eq(ring.at(head))
            response, kind = self.refusal(m, current, direction)
            current = _Current(current, response, kind)
            # Per burst being answered: requests made, answered, and the beats.
            made = Signal(9, name=f"{direction}_reqs")
            answered = Signal(9, name=f"{direction}_resps")
            faulted = Signal(name=f"{direction}_faulted")
            errored = Signal(name=f"{direction}_errored")
            last_bytes = Signal(len(resp_bytes), name=f"{direction}_read_bytes")
            last_error = Signal(name=f"{direction}_read_error")
            logging = Signal(name=f"{direction}_fault_offered")     # this cycle
            with m.If(done):
                m.d.sync += [made.eq(0), answered.eq(0), faulted.eq(0), errored.eq(0)]
            state[direction] = dict(ring=ring, taken=taken, tail=tail, done=done, opened=opened,
                                    current=current, made=made, answered=answered,
                                    faulted=faulted, errored=errored, head=head,
                                    last_bytes=last_bytes, last_error=last_error, logging=logging)

        # -- requests: beats of the current burst of their direction, at AMBA's addresses ----
        for direction in ("read", "write"):
            st = state[direction]
            current = st["current"]
            is_write = direction == "write"
            address, lanes = self.reference(m, current, st["made"], direction)
            mine = req.payload.write == int(is_write)
            with m.If(req_hs & mine):
                m.d.sync += st["made"].eq(st["made"] + 1)
            with m.If(resp_hs & (asked_write == int(is_write))):
                m.d.sync += [st["answered"].eq(st["answered"] + 1),
                             st["last_bytes"].eq(resp_bytes),
                             st["last_error"].eq(resp.payload.error)]
                with m.If(resp.payload.error):
                    m.d.sync += st["errored"].eq(1)
            with m.If(req.valid & mine):
                m.d.comb += [
                    Assert((st["opened"] != 0) & (_v(current.refusal) == Response.OKAY) &
                           (st["made"] <= current.len), f"{direction}_req_of_accepted_burst"),
                    Assert(req.payload.address == address, f"{direction}_beat_address"),
                    Assert(req.payload.keyid == current.addr[config.stripped_bits:],
                           f"{direction}_req_keyid"),
                ]
                if is_write:
                    m.d.comb += [
                        Assert(axi.wvalid & (req.payload.data == axi.wdata),
                               "write_req_data"),
                        Assert(req.payload.strobe == (axi.wstrb & lanes), "write_req_strobes"),
                    ]
            if is_write:
                # The W beat goes with its request: taken together.
                with m.If(req_hs & mine):
                    m.d.comb += Assert(axi.wready, "write_req_with_w_beat")
        w_taken = Signal(name="w_hs")
        m.d.comb += w_taken.eq(axi.wvalid & axi.wready)
        w_beats = Signal(9, name="w_beats")
        st = state["write"]
        with m.If(st["done"]):
            m.d.sync += w_beats.eq(0)
        with m.Elif(w_taken):
            m.d.sync += w_beats.eq(w_beats + 1)
        with m.If(w_taken):
            m.d.comb += Assert((st["opened"] != 0) & (w_beats <= st["current"].len),
                               "w_beat_of_open_burst")
            with m.If(st["current"].refusal == Response.OKAY):
                m.d.comb += Assert(req_hs & req.payload.write, "w_beat_with_its_request")

        # -- R: beats of the current read burst, in order, with its ID ------------------------
        st = state["read"]
        current = st["current"]
        r_hs = Signal(name="r_hs")
        m.d.comb += r_hs.eq(axi.rvalid & axi.rready)
        r_beats = Signal(9, name="r_beats")
        with m.If(st["done"]):
            m.d.sync += r_beats.eq(0)
        with m.Elif(r_hs):
            m.d.sync += r_beats.eq(r_beats + 1)
        m.d.comb += st["done"].eq(r_hs & axi.rlast)
        with m.If(reset):
            m.d.comb += Assert(~axi.rvalid & ~axi.bvalid, "responses_low_in_reset")
        hold(m, axi.rvalid, axi.rready, [axi.rid, axi.rdata, _v(axi.rresp), axi.rlast], Assert,
             "r_holds")
        with m.If(axi.rvalid):
            refused = _v(current.refusal) != Response.OKAY
            m.d.comb += [
                Assert(st["opened"] != 0, "r_of_open_burst"),
                Assert(axi.rlast == (r_beats == current.len), "rlast_on_last_beat"),
                Assert(axi.rid == current.id[:id_width], "r_id"),
                Assert(Mux(refused, st["made"] == 0,
                           (st["answered"] == r_beats + 1) & (st["made"] == r_beats + 1)),
                       "r_after_its_request"),
                Assert(Mux(refused, (_v(axi.rresp) == _v(current.refusal)) & (axi.rdata == 0),
                           Mux(st["last_error"],
                               (_v(axi.rresp) == Response.SLVERR) & (axi.rdata == 0),
                               (_v(axi.rresp) == Response.OKAY) &
                               (axi.rdata == _read_word(st["last_bytes"])))),
                       "r_response"),
            ]
        with m.If(st["done"] & (_v(current.refusal) != Response.OKAY)):
            m.d.comb += Assert(st["faulted"] | st["logging"], "read_refusal_logged")

        # -- B: one per write burst, after its W beats, with its ID and worst response --------
        st = state["write"]
        current = st["current"]
        b_hs = Signal(name="b_hs")
        m.d.comb += [b_hs.eq(axi.bvalid & axi.bready), st["done"].eq(b_hs)]
        hold(m, axi.bvalid, axi.bready, [axi.bid, _v(axi.bresp)], Assert, "b_holds")
        with m.If(axi.bvalid):
            refused = _v(current.refusal) != Response.OKAY
            m.d.comb += [
                Assert((st["opened"] != 0) & (w_beats == current.len + 1), "b_after_w_beats"),
                Assert(axi.bid == current.id[:id_width], "b_id"),
                Assert(Mux(refused, st["made"] == 0,
                           (st["made"] == current.len + 1) &
                           (st["answered"] == current.len + 1)), "b_after_its_requests"),
                Assert(_v(axi.bresp) == Mux(refused, _v(current.refusal),
                                        Mux(st["errored"], Response.SLVERR, Response.OKAY)),
                       "b_response"),
            ]
        with m.If(st["done"] & (_v(current.refusal) != Response.OKAY)):
            m.d.comb += Assert(st["faulted"] | st["logging"], "write_refusal_logged")

        # -- faults: one record per refused burst, offered while it is answered ---------------
        fault = dut.fault
        offered = Signal(name="fault_offered")
        fault_held = hold(m, fault.valid, fault.ready, [fault.record.as_value()], Assert,
                          "fault_holds")
        m.d.comb += offered.eq(fault.valid & ~fault_held)
        for direction in ("read", "write"):
            st = state[direction]
            current = st["current"]
            m.d.comb += st["logging"].eq(offered &
                                         (fault.record.write == int(direction == "write")))
            with m.If(st["logging"] & ~st["done"]):
                m.d.comb += Assert(
                    (st["opened"] != 0) & (_v(current.refusal) != Response.OKAY) &
                    ~st["faulted"] & (st["made"] == 0) &
                    (fault.record.address == current.addr) &
                    (fault.record.keyid == current.addr[config.stripped_bits:]) &
                    (_v(fault.record.kind) == current.kind) &
                    (_v(fault.record.source) == FaultSource.HOST), "one_fault_per_refusal")
                m.d.sync += st["faulted"].eq(1)

        if self.covers:
            self._covers(m, axi, state, req_hs)
        if self.invariants:
            self._invariants(m, Probe(fragment), state, asked, asked_write, w_beats, r_beats,
                             fault_held)
        return m

    def _invariants(self, m, probe, state, asked, asked_write, w_beats, r_beats, fault_held):
        """White-box facts that make the properties inductive (asserted, never assumed)."""
        config = self.config
        dut = self.dut
        fsm = probe.signal("host_port_state")
        encoding = {}
        for value in range(1 << len(fsm)):
            try:
                encoding[fsm.decoder(value).split("/")[0]] = value
            except (KeyError, ValueError):
                continue

        def at(*names):
            return Cat(*(fsm == encoding[name] for name in names)).any()

        m.d.comb += Assert(Cat(*(fsm == v for v in encoding.values())).any())
        request_layout = data.StructLayout({
            "id": max(1, config.host_id_width), "addr": config.phys_addr_bits, "len": 8,
            "size": 3, "burst": 2})
        burst = data.View(request_layout, probe.signal("burst"))
        write = probe.signal("burst_write")
        beat_address = probe.signal("beat_address")
        beats_left = probe.signal("beats_left")
        refusal = probe.signal("refusal")
        kind = probe.signal("refusal_kind")
        worst = probe.signal("write_response")
        beat_data = probe.signal("beat_data")
        beat_response = probe.signal("beat_response")
        wrap_mask = probe.signal("wrap_mask")
        serving = ~at("IDLE")
        m.d.comb += [
            Assert(asked == at("READ_WAIT", "WRITE_WAIT")),
            Assert(~asked | (asked_write == at("WRITE_WAIT"))),
        ]

        def same(record, other):
            return ((record.id == other.id) & (record.addr == other.addr) &
                    (record.len == other.len) & (record.size == other.size) &
                    (record.burst == other.burst))

        for direction in ("read", "write"):
            is_write = int(direction == "write")
            st = state[direction]
            ring, head, current = st["ring"], st["head"], st["current"]
            mine = serving & (write == is_write)
            beats = w_beats if is_write else r_beats
            queue = probe.sub(f"{direction}_queue")
            level = queue.signal("level")
            inner = queue.signal("inner_level")
            consume = queue.signal("consume")
            r_rdy = queue.signal("r_rdy", 1)
            out = data.View(request_layout, queue.signal("r_data"))
            words = [data.View(request_layout, queue.memory_read(
                "storage", C(i, 1), label=f"{direction}_queue_word{i}")) for i in range(2)]
            produce = queue.signal("produce")
            m.d.comb += [
                Assert(st["opened"] == level + mine),
                Assert(inner <= 2),
                Assert(produce == (consume + inner)[0]),
                Assert(st["tail"] == (head + st["opened"])[:2]),
            ]
            # The queue holds the bursts after the one served, in order.
            for j in range(HOST_OPEN - 1):
                record = ring.at((head + mine + j) % HOST_OPEN)
                if j == 0:
                    stored = Mux(r_rdy, out.as_value(),
                                 Array(w.as_value() for w in words)[consume])
                else:
                    stored = Mux(r_rdy, Array(w.as_value() for w in words)[(consume + j - 1) % 2],
                                 Array(w.as_value() for w in words)[(consume + j) % 2])
                with m.If(j < level):
                    m.d.comb += Assert(same(record, data.View(request_layout, stored)))
            with m.If(~mine):
                m.d.comb += Assert((st["made"] == 0) & (st["answered"] == 0) & (beats == 0) &
                                   ~st["faulted"] & ~st["errored"])
            with m.If(mine):
                accepted = _v(current.refusal) == Response.OKAY
                address, _ = self.reference(m, current, Mux(at("WRITE_WAIT"), beats - 1, beats),
                                            f"{direction}_inv")
                step = Mux(current.size <= 4, C(1, 5) << current.size, 0)   # as the design
                with m.If(accepted):
                    m.d.comb += Assert(~st["faulted"])
                m.d.comb += [
                    Assert(same(current, burst)),
                    Assert(probe.signal("burst_keyid") == current.addr[config.stripped_bits:]),
                    Assert(wrap_mask == (((current.len + 1) * step) - 1)[:12]),
                ]
                with m.If(~at("CHECK")):
                    m.d.comb += Assert(refusal == _v(current.refusal))
                    with m.If(~accepted):
                        m.d.comb += Assert(kind == current.kind)
                with m.If(at("CHECK")):
                    m.d.comb += Assert((st["made"] == 0) & (st["answered"] == 0) &
                                       (beats == 0) & ~st["faulted"] & ~st["errored"] &
                                       (beat_address == current.addr[:config.stripped_bits]) &
                                       (beats_left == current.len) &
                                       (refusal == _v(current.refusal)) &
                                       (accepted | (kind == current.kind)))
                    if is_write:
                        m.d.comb += Assert(worst == Response.OKAY)
                with m.If(at("REFUSE")):
                    m.d.comb += Assert(~accepted & (st["made"] == 0) &
                                       (beats == current.len - beats_left) &
                                       (beats <= current.len) &
                                       (beat_data == 0) & (beat_response == refusal) &
                                       (st["faulted"] | (dut.fault.valid & ~fault_held &
                                                         (dut.fault.record.write == is_write))))
                    if is_write:
                        m.d.comb += Assert(worst == refusal)
                if is_write:
                    with m.If(at("WRITE_BEAT")):
                        m.d.comb += Assert(accepted & (st["made"] == beats) &
                                           (st["answered"] == beats) & (beats <= current.len) &
                                           (beats_left == current.len - beats) &
                                           (beat_address == address))
                    with m.If(at("WRITE_WAIT")):
                        m.d.comb += Assert(accepted & (st["made"] == beats) &
                                           (st["answered"] + 1 == beats) & (beats != 0) &
                                           (beats <= current.len + 1) &
                                           (beats_left == current.len + 1 - beats) &
                                           (beat_address == address))
                    with m.If(at("WRITE_BEAT", "WRITE_WAIT")):
                        m.d.comb += Assert(worst == Mux(st["errored"], Response.SLVERR,
                                                        Response.OKAY))
                    with m.If(at("WRITE_RESPONSE")):
                        m.d.comb += Assert((beats == current.len + 1) & Mux(
                            accepted,
                            (st["made"] == beats) & (st["answered"] == beats) &
                            (worst == Mux(st["errored"], Response.SLVERR, Response.OKAY)),
                            (worst == refusal) & st["faulted"]))
                    m.d.comb += Assert(~at("READ_BEAT", "READ_WAIT", "READ_DATA"))
                else:
                    with m.If(at("READ_BEAT", "READ_WAIT", "READ_DATA")):
                        m.d.comb += Assert(accepted & (beats <= current.len) &
                                           (beats_left == current.len - beats) &
                                           (beat_address == address))
                    with m.If(at("READ_BEAT")):
                        m.d.comb += Assert((st["made"] == beats) & (st["answered"] == beats))
                    with m.If(at("READ_WAIT")):
                        m.d.comb += Assert((st["made"] == beats + 1) &
                                           (st["answered"] == beats))
                    with m.If(at("READ_DATA")):
                        m.d.comb += Assert(
                            (st["made"] == beats + 1) & (st["answered"] == beats + 1) &
                            (beat_response == Mux(st["last_error"], Response.SLVERR,
                                                  Response.OKAY)) &
                            (beat_data == Mux(st["last_error"], 0,
                                              _read_word(st["last_bytes"]))))
                    m.d.comb += Assert(~at("WRITE_BEAT", "WRITE_WAIT", "WRITE_RESPONSE"))
        # A record offered is new only in the first cycle of a refusal.
        with m.If(dut.fault.valid & ~fault_held):
            m.d.comb += Assert(at("REFUSE"))

    def _covers(self, m, axi, state, req_hs):
        for direction in ("read", "write"):
            st = state[direction]
            current = st["current"]
            accepted = _v(current.refusal) == Response.OKAY
            done = st["done"]
            m.d.comb += [
                Cover(done & accepted & (current.burst == Burst.INCR) & (current.len != 0)),
                Cover(done & accepted & (current.burst == Burst.WRAP) &
                      (current.addr[:4] != 0)),
                Cover(done & accepted & (current.burst == Burst.FIXED) & (current.len != 0)),
                Cover(done & accepted & (current.size < 4) & (current.len != 0)),
                Cover(done & accepted & (current.addr[:4] != 0) & (current.len != 0) &
                      (current.burst == Burst.INCR)),
                Cover(done & (current.kind == FaultKind.PROTOCOL_ERROR)),
                Cover(done & (current.kind == FaultKind.INVALID_KEYID)),
                Cover(done & (current.kind == FaultKind.OUT_OF_RANGE)),
                Cover(done & accepted & st["errored"]),
            ]
        # Back to back: a burst completes while the next of its kind is already taken.
        m.d.comb += [
            Cover(state["read"]["done"] & (state["read"]["opened"] == 2)),
            Cover(state["write"]["done"] & (state["write"]["opened"] == 2)),
            Cover(state["read"]["done"] & state["write"]["taken"]),
        ]


def tasks():
    return [
        FormalTask(
            name="memory_side_axi", block="MemorySide", mode="prove", engine="smtbmc yices",
            depth=INDUCTION_DEPTH, unbounded=True,
            description="AXI4 manager rules on m_axi (valids low in reset; AR, AW, W held until "
                        "ready; line bursts: AxLEN 3, AxSIZE 4, INCR, aligned, inside memory; "
                        "WLAST on every 4th beat only; one W burst per AW); at most FILL_SLOTS "
                        "reads and WRITE_SLOTS writes outstanding; writes_idle exact "
                        "(k-induction, white-box invariants)",
            spec=lambda: MemorySideSpec(properties=("axi",), invariants=True), script=MAP),
        FormalTask(
            name="memory_side_order", block="MemorySide", mode="prove", engine="smtbmc yices",
            depth=INDUCTION_DEPTH, unbounded=True,
            description="ordering rule 1: no AR for a line L (any) while a write-back of L "
                        "handed over is not answered on B (k-induction, white-box invariants)",
            spec=lambda: MemorySideSpec(properties=("order",), invariants=True), script=MAP),
        FormalTask(
            name="memory_side_keys", block="MemorySide", mode="bmc", engine="abc bmc3",
            depth=KEYS_DEPTH, unbounded=False, slow=True,
            description="ordering rule 2 and routing: each write-back's W beats are its data "
                        "encrypted (stand-in) under the key of its KeyID in force at hand-over "
                        "(plaintext for NO_ENCRYPT), at its line's address; key changes only "
                        "while keys_bound; fills and write-backs mixed",
            spec=lambda: MemorySideSpec(properties=("keys",)), script=MAP),
        FormalTask(
            name="memory_side_keys_write_backs", block="MemorySide", mode="bmc",
            engine="abc bmc3", depth=KEYS_ONLY_DEPTH, unbounded=False,
            description="as memory_side_keys with write-backs only (no fills)",
            spec=lambda: MemorySideSpec(properties=("keys",), fills=False), script=MAP),
        FormalTask(
            name="memory_side_fills", block="MemorySide", mode="bmc", engine="abc bmc3",
            depth=FILLS_DEPTH, unbounded=False,
            description="fills: AR at the fill's line in order; each answer is the stand-in "
                        "decryption of its four R beats in order under its KeyID's key "
                        "(plaintext for NO_ENCRYPT), error exactly when a beat was not OKAY; "
                        "fill_resp held until ready",
            spec=lambda: MemorySideSpec(properties=("fills",)), script=MAP),
        FormalTask(
            name="memory_side_2k_fills", block="MemorySide(128, 256)", mode="bmc",
            engine="abc bmc3", depth=KEYS_2K_DEPTH, unbounded=False,
            description="both key sizes (two stand-in engines, routed by aes256): the fills "
                        "properties",
            spec=lambda: MemorySideSpec(CONFIG_2K, properties=("fills",)), script=MAP),
        FormalTask(
            name="memory_side_2k_write_backs", block="MemorySide(128, 256)", mode="bmc",
            engine="abc bmc3", depth=KEYS_2K_DEPTH, unbounded=False,
            description="both key sizes: the keys properties, write-backs only",
            spec=lambda: MemorySideSpec(CONFIG_2K, properties=("keys",), fills=False),
            script=MAP),
        FormalTask(
            name="memory_side_response", block="MemorySide", mode="bmc", engine="abc bmc3",
            depth=RESPONSE_DEPTH, unbounded=False,
            description=f"environment latency M = {RESPONSE_M}: every fill answered and every "
                        f"write-back answered on B within {RESPONSE_BOUND} cycles of being "
                        f"taken",
            spec=lambda: MemorySideSpec(properties=("response",), latency=RESPONSE_M,
                                        bound=RESPONSE_BOUND), script=MAP),
        FormalTask(
            name="memory_side_cover", block="MemorySide", mode="cover", engine="smtbmc yices",
            depth=COVER_DEPTH, unbounded=False,
            description="fills decrypted, plaintext and failed; a write-back failed; a key "
                        "change with a write-back in flight; a fill held back by a write-back "
                        "of its line, then read; both fill slots, all write slots; a fault",
            spec=lambda: MemorySideSpec(properties=(), covers=True), script=MAP),
        FormalTask(
            name="memory_side_2k_cover", block="MemorySide(128, 256)", mode="cover",
            engine="smtbmc yices", depth=COVER_DEPTH, unbounded=False,
            description="as memory_side_cover with both key sizes, and each engine delivering "
                        "a line",
            spec=lambda: MemorySideSpec(CONFIG_2K, properties=(), covers=True), script=MAP),
        FormalTask(
            name="host_port", block="AXI4HostPort", mode="prove", engine="smtbmc yices",
            depth=2, unbounded=True, slow=True,
            description="AXI4 subordinate rules on s_axi under a free manager (legal and "
                        "illegal bursts): R and B held until ready, AxLEN + 1 R beats with "
                        "RLAST on the last, one B after all W beats, in request order with "
                        "the request's ID; refusals (protocol, KeyID, range) make no request, "
                        "one fault record and SLVERR/DECERR; accepted bursts make AxLEN + 1 "
                        "requests at AMBA's beat addresses with WSTRB on the beat's lanes "
                        "(k-induction, white-box invariants)",
            spec=lambda: HostPortSpec(invariants=True), script=MAP),
        FormalTask(
            name="host_port_cover", block="AXI4HostPort", mode="cover", engine="smtbmc yices",
            depth=HOST_COVER_DEPTH, unbounded=False,
            description="each burst type, narrow, unaligned, each refusal, back to back",
            spec=lambda: HostPortSpec(covers=True)),
    ]
