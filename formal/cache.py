"""Formal specification of :class:`memcrypt.gateware.cache.KeyTaggedCache`: one copy of a line
across KeyIDs, a cache invisible behind encrypted memory, retirement, bounded response.

Configuration (:data:`CONFIG`): 11-bit physical addresses with a 2-bit KeyID (4 KeyIDs),
so 9-bit stripped addresses and 8 lines of 64 bytes, in a cache of 2 ways x 2 sets (4
lines): twice as many lines as the cache holds, so that capacity evictions, PLRU choices
and aliases all occur. (With 10-bit addresses there would be 4 lines, exactly the cache's
size, and no capacity eviction.)

**Environment.** Free (``AnySeq``): requests (address, KeyID, read/write, strobes, data),
maintenance operations (any op, KeyID, range), the key table's retire handshake (assumed
held, with its KeyID and ``retire_all``, until ``retire_done``, which
:mod:`.control` proves of :class:`~memcrypt.gateware.control.KeyControl`), and every ready. The
request and maintenance streams need no stream-rule assumption (the cache samples them only
at the handshake), so none is made. The memory behind the cache takes fill requests and
write-backs whenever its free ``ready`` says so and answers each fill (in order: the cache
has at most one outstanding, asserted) at a free time with a free line, except for the
tracked word below. Reset is asserted in the first cycle only; the cache's reset sweep
(INIT, one cycle per set) then runs over memories that start empty, and ``ready`` rises.
(That the sweep empties a cache whatever its memories hold, after a reset in the middle of
traffic, is shown in simulation: ``tests/test_cache.py::test_reset_sweep_*``.)

**Contract** (asserted in every task): one request or maintenance operation at a time,
a response only for an accepted request (with its read/write bit), ``maint_done`` only for
an accepted operation, ``retire_done`` only while requested, no fill request while one is
outstanding; and on ``resp``, ``wb``, ``fill_req`` and ``maint_done``, valid and payload
hold until ready (the data payloads in the tasks that keep the data path).

Properties and tasks:

1. **Alias exclusion** (``cache_alias``, ABC PDR, **unbounded**): never two valid lines with
   the same physical line address: in each set, no two valid ways with the same tag (read
   from the tag memories through added read ports; the set index is part of the line
   address, so this covers all sets and ways). ``cache_invariants`` (k-induction) proves it
   again together with the control invariants below.
2. **Refinement** (``cache_refinement``, k-induction, **unbounded**, induction depth 1): the
   solver picks a line ``A`` and a word ``w`` of it (``AnyConst``), and a 128-bit pad
   ``P_k`` per KeyID (``AnyConst``): the cipher is ``E_k(x) = D_k(x) = x ^ P_k``, so the
   proof holds for every such invertible cipher, pads equal or not. ``R`` is an uncached
   reference of the ciphertext of (A, w): a write of (A, w) under ``j`` with strobes ``s``
   sets ``R := E_j(merge(D_j(R), data, s))`` when accepted; a read of (A, w) under ``k``
   must return ``D_k(R)`` (as of its acceptance; requests are served one at a time). The
   memory holds ``Mem``, the ciphertext of (A, w): a write-back of ``A`` under ``k`` stores
   ``E_k(word w)``; a fill of ``A`` under ``k`` returns ``D_k(Mem)`` as word ``w`` (as of the
   fill request) and free values elsewhere; fills of other lines return free lines. A read
   under ``k2`` of a word written under ``k1`` therefore returns ``D_k2(E_k1(data))``,
   exactly as uncached encrypted memory does. Tracking one word is no restriction: every
   line and word is the tracked one in some run, and the cache's control never looks at
   data. No data value is constrained.
3. **Retirement** (``cache_retire``, ABC PDR, **unbounded**; data clause in
   ``cache_refinement``): when ``retire_done`` is high for KeyID ``k`` (or for all, with
   ``retire_all``), no valid line has KeyID ``k`` (any KeyID), in any set or way; no
   write-back is pending (memory has taken them all); and, in ``cache_refinement``, if ``A``
   was cached dirty under ``k`` when the retirement started (the cycle the cache leaves
   IDLE for it), then ``Mem == R``: memory holds the line's latest value, encrypted under
   its KeyID.
4. **Bounded response** (**unbounded**, counters in the specification), for M = 2 and
   M = 10: the memory takes each fill request and each write-back within ``M`` cycles of
   offering it (at most ``M`` consecutive cycles valid without ready), answers each fill
   within ``M`` cycles of its request, and the requester takes each response and each
   ``maint_done`` within ``M`` cycles (all assumed). Then:

   * requests (``cache_response``, ``cache_response_m10``; ABC PDR): ``resp.valid`` at most
     ``B(M) = 3M + 18 + max(0, M - 11)`` cycles after the request's acceptance
     (:func:`request_bound`; 24 for M = 2, 48 for M = 10). Worst case, an alias read out
     dirty: TAG_READ 1, LOOKUP 1, WAIT_WB ``max(0, M - 11)`` (a previous write-back,
     offered at least 12 cycles before), EVICT 5, FILL ``2M + 2`` (the alias's write-back
     is taken first, then the fill request), FILL_WAIT ``M + 1``, REFILL 4, REPLAY 1,
     TAG_READ 1, LOOKUP 1. Tight for M = 2: ``cache_response_cover`` reaches 24;
   * maintenance (``cache_scan_bound``, ``cache_scan_bound_m10``; k-induction with a ranking
     invariant): ``maint_done.valid`` at most ``S(P, H) = 1 + 3P + H(8 + M) + M + 1``
     cycles after acceptance (:func:`scan_bound`), for a scan of ``P`` positions (the 2 sets
     for FLUSH_ALL, RETIRE_KEYID and the unused op 3; the ``end - start`` lines of a
     FLUSH_RANGE) invalidating at most ``H`` lines (4, or ``min(P, 4)`` for a range); 1 for
     an empty range. Per position SCAN_READ, SCAN_TAG and SCAN_CHECK; per line invalidated
     at most SCAN_CHECK, SCAN_WAIT_WB (``M``: the previous write-back), SCAN_EVICT (5),
     SCAN_READ, SCAN_TAG; SCAN_DRAIN at most ``M + 1``. For M = 2: 50 cycles for a
     flush-all or KeyID retire, ``4 + 3n + 10 min(n, 4)`` for a range of ``n`` lines. An
     upper bound, not tight (the first write-back of a scan has no write-back of its own
     scan to wait for);
   * retirement (same tasks): no request or maintenance operation is accepted while
     ``retire_valid`` is high, and ``retire_done`` comes at most ``S(2, 4)`` cycles after
     the first cycle in which a retirement is requested, the cache is ``ready`` and no
     request or operation is in progress. Hence (a corollary of the proven bounds, not a
     property checked on its own) ``retire_done`` comes at most :func:`retire_bound` cycles
     after ``retire_valid`` rises, once the cache is ready:
     the longest request or operation already in progress (a 15-line range flush) plus
     ``M`` for its handshake, then ``S(2, 4)``: 141 cycles for M = 2.

   IDLE prefers a retirement, then a maintenance operation, to a request, so a request is
   bounded from its acceptance only (a stream of retirements could hold it off).

Covers (``cache_cover``, bounded, depth 36): a hit; a miss whose victim is dirty (a
capacity write-back); an alias eviction, and one whose alias is dirty; a retirement that
writes back a dirty line; a range flush that writes back a line; a read of (A, w) under a
KeyID other than its last writer's. ``cache_response_cover`` (depth 40): a response
exactly ``B(2)`` cycles after its request.

**Inductive invariants** (white-box, asserted, never assumed; :class:`CacheView` finds the
registers by name, the FSM states by their names, and adds read ports to the tag and data
memories):

* control (``cache_invariants``, ``cache_refinement``): the FSM state is valid; a request is
  outstanding exactly in the request states, and the cache's request register is the
  accepted request; a maintenance operation exactly in the scan states (without
  ``scan_retire``), with its op; ``scan_retire`` only in scan states, with
  ``retire_valid`` held and the scan's KeyID and op the handshake's; the memory's
  outstanding fill exactly in FILL_WAIT, for the request's line and KeyID; no write-back
  pending in EVICT and SCAN_EVICT, nor in SCAN_DONE after a scan; ``word_index`` in range,
  and 0 outside EVICT, SCAN_EVICT, REFILL; during a miss (WAIT_WB, EVICT, FILL) the victim's
  tag in memory is ``victim_tag`` (valid and dirty before FILL), ``alias`` says whether it
  is the requested line (then under another KeyID), and no other way holds the line; a
  dirty victim's write-back, if still pending in FILL, is the victim's line and KeyID; from
  the fill request on (FILL_WAIT, REFILL) the victim is invalid, no way holds the line and
  no write-back of it is pending, and in REPLAY the victim holds it, clean, under the
  request's KeyID; the tag read ports hold the tags of the set being looked up
  (TAG_READ) or scanned (SCAN_TAG), and their registered copies ``tag_q`` hold them in
  LOOKUP and SCAN_CHECK; in SCAN_WAIT_WB and SCAN_EVICT the victim is valid,
  dirty, and in memory as ``victim_tag``; a set or KeyID scan has ``scan_line`` below the
  set count and no line it targets left in the sets before ``scan_line`` (in none once
  draining or done); the victim of a scan's eviction is a line the scan targets.
* ranking (``cache_scan_bound*``): the memory's wait counters are at most ``M`` and a
  pending write-back seen in SCAN_CHECK has waited at least a cycle; the scan's age plus
  an upper bound of the cycles it has left (:meth:`CacheSpec._scan_remaining`, from the
  state, ``word_index``, the lines the scan will still hit, the positions left and the
  write-back's wait counter) is within the bound, which makes the bound inductive: the
  upper bound falls by at least one every cycle.
* data (``cache_refinement``): with ``Rc`` the reference as the cache must reflect it (``R``
  before the outstanding write of (A, w) is performed, i.e. until RESPOND): the reference's
  previous value and the expected read value agree with the outstanding request; the data
  read registers hold the word read (LOOKUP: the requested word; EVICT, SCAN_EVICT: the
  word before ``word_index``); every cached copy of ``A`` under ``k`` holds ``D_k(Rc)``
  and, if clean, ``Mem == Rc``; a pending write-back of ``A`` under ``k`` carries
  ``D_k(Rc)`` and coexists with a cached copy only in FILL, when that copy is the dirty
  victim (whose write-back, once taken, leaves ``Mem == Rc``); if ``A`` is neither cached
  nor being written back, ``Mem == Rc``; the fill of ``A`` in flight carries ``D_k(Rc)``,
  as does the fill buffer in REFILL and each refilled word; the line buffer's word ``w``
  once read out of ``A`` in EVICT or SCAN_EVICT; during a retirement that found ``A``
  dirty under its KeyID, ``A`` is cached under no other.

Negative tasks (must FAIL, bounded model checking): ``cache_mutant_alias`` (``line_match``
cut to a free value: the cache may miss an alias and keep two copies of a line),
``cache_mutant_refill`` (``fill_buffer`` free: a read returns data the memory never sent),
``cache_mutant_retire`` (``scan_keyid`` free: a retirement leaves lines of its KeyID).
"""

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
)
from amaranth.lib import data

from memcrypt.amaranth_private import is_memory, memory_read_data
from memcrypt.config import MemcryptConfig
from memcrypt.flow.formal import FormalTask
from memcrypt.gateware.cache import KeyTaggedCache
from memcrypt.gateware.interfaces import MaintOp, WordRequest
from memcrypt.geometry import WORDS_PER_LINE

from .whitebox import Probe, ProbeError

__all__ = ["CONFIG", "WAYS", "SETS", "design", "request_bound", "scan_bound",
           "maint_bound", "longest_operation", "retire_bound", "CacheView", "CacheSpec",
           "tasks", "negative_tasks"]

#: 11-bit physical addresses with a 2-bit KeyID: 9-bit stripped addresses, 8 lines of 64
#: bytes, twice what 2 ways x 2 sets hold, so that capacity evictions happen.
CONFIG = MemcryptConfig(phys_addr_bits=11, keyid_bits=2, num_keys=4, mem_bytes=1 << 9,
                        key_sizes=(128,))
WAYS = 2
SETS = 2
COVER_DEPTH = 38
RESPONSE_COVER_DEPTH = 42
SCAN_BOUNDS = ("sets", "range", "retire_scan")
#: The tag and PLRU memories (a few bits each) as flip-flops: much faster for the SMT
#: solver than arrays. The data memories stay arrays.
MAP_TAGS = ("memory_map top/dut.tags0 top/dut.tags1 top/dut.plru", "opt_clean")
LINES = 1 << CONFIG.line_address_bits

STATES = ("INIT", "IDLE", "TAG_READ", "LOOKUP", "WAIT_WB", "EVICT", "FILL", "FILL_WAIT", "REFILL",
          "REPLAY", "RESPOND", "SCAN_READ", "SCAN_TAG", "SCAN_CHECK", "SCAN_WAIT_WB",
          "SCAN_EVICT", "SCAN_DRAIN", "SCAN_DONE")
REQUEST_STATES = ("TAG_READ", "LOOKUP", "WAIT_WB", "EVICT", "FILL", "FILL_WAIT", "REFILL",
                  "REPLAY", "RESPOND")
SCAN_STATES = ("SCAN_READ", "SCAN_TAG", "SCAN_CHECK", "SCAN_WAIT_WB", "SCAN_EVICT",
               "SCAN_DRAIN", "SCAN_DONE")
#: Scan cycles per position (SCAN_READ, SCAN_TAG, SCAN_CHECK), and per line invalidated
#: besides the memory's wait M (SCAN_CHECK, SCAN_EVICT 5, SCAN_READ, SCAN_TAG).
SCAN_POSITION_CYCLES = 3
SCAN_LINE_CYCLES = 8


def design():
    return KeyTaggedCache(CONFIG, ways=WAYS, sets=SETS)


# -- Response bounds ---------------------------------------------------------------------------

def request_bound(m):
    """Cycles from a request's acceptance to its response (``resp.valid``), with memory and
    requester latency ``m``; see the module docstring."""
    return 3 * m + 18 + max(0, m - 11)


def scan_bound(m, positions, hits):
    """Cycles from a scan's start (the cycle it is accepted, or for a retirement the cycle
    it begins) to its completion (``maint_done.valid`` or ``retire_done``), for a scan of
    ``positions`` sets (or range lines) that invalidates at most ``hits`` lines; see the
    module docstring."""
    return 1 + SCAN_POSITION_CYCLES * positions + hits * (SCAN_LINE_CYCLES + m) + m + 1


def maint_bound(m, op, count=None):
    """Cycles from a maintenance operation's acceptance to ``maint_done.valid``; for
    ``FLUSH_RANGE``, ``count`` lines (``end - start``, or 0)."""
    if op == MaintOp.FLUSH_RANGE:
        if count == 0:
            return 1
        return scan_bound(m, count, min(count, WAYS * SETS))
    return scan_bound(m, SETS, WAYS * SETS)


def longest_operation(m):
    """The longest a request or maintenance operation keeps the cache from a retirement:
    to its response or completion, plus ``m`` for the handshake."""
    ranges = [maint_bound(m, MaintOp.FLUSH_RANGE, n) for n in range(2 * LINES)]
    return max(request_bound(m), maint_bound(m, MaintOp.FLUSH_ALL), *ranges) + m


def retire_bound(m):
    """Cycles from ``retire_valid`` rising to ``retire_done``: the longest request or
    operation in progress, then the retirement's scan (a corollary of the proven bounds)."""
    return longest_operation(m) + maint_bound(m, MaintOp.RETIRE_KEYID)


# -- White-box view of the elaborated cache ----------------------------------------------------

def _port_data(fragment, name):
    """The data of memory ``name``'s own (first, synchronous) read port."""
    memory = fragment.find_subfragment(name)
    registered = memory_read_data(memory, registered=True) if is_memory(memory) else []
    if not registered:
        raise ProbeError(f"dut.{name} is not a memory with a synchronous read port")
    return registered[0]


class CacheView:
    """The cache's registers and memories, as the invariants see them."""

    def __init__(self, cache, fragment):
        geo = cache.geometry
        self.geometry = geo
        self.tag_layout = layout = geo.tag_layout()
        probe = Probe(fragment)
        state = probe.signal("cache_state")
        encoding = {}
        for value in range(1 << len(state)):
            try:
                name = state.decoder(value)
            except KeyError:
                continue
            encoding[name.split("/")[0]] = value
        missing = set(STATES) - set(encoding)
        if missing:
            raise ProbeError(f"dut: FSM states {sorted(missing)} not found")
        self.state = state
        self.encoding = encoding
        # The design's own read ports first (probe ports are added after them).
        self.tag_rd = [data.View(layout, _port_data(fragment, f"tags{v}"))
                       for v in range(geo.ways)]
        self.word_rd = [_port_data(fragment, f"data{v}") for v in range(geo.ways)]
        # The registered copies of the tag read ports, which the comparisons use.
        self.tag_q = [data.View(layout, probe.signal(f"tag_q{v}")) for v in range(geo.ways)]
        self.probe = probe
        self.tags = [[data.View(layout, probe.memory_read(f"tags{v}", C(s, max(1, geo.set_bits)),
                                                          label=f"tag_s{s}_w{v}"))
                      for v in range(geo.ways)] for s in range(geo.sets)]
        self.req = data.View(WordRequest(cache.config), probe.signal("req"))
        self.victim_tag = data.View(layout, probe.signal("victim_tag"))
        for name in ("victim", "word_index", "wb_pending", "wb_line", "wb_keyid",
                     "line_buffer", "fill_buffer", "resp_data", "alias", "scan_op",
                     "scan_keyid", "scan_line", "scan_end", "scan_retire", "scan_set",
                     "scan_tag", "req_line", "req_word", "scan_count"):
            setattr(self, name, probe.signal(name))

    def at(self, *names):
        return Cat(*(self.state == self.encoding[name] for name in names)).any()

    def set_of(self, line):
        return line[:self.geometry.set_bits]

    def tag_of(self, line):
        return line[self.geometry.set_bits:]

    def tag_at(self, set_index, way):
        """Tag word of ``way`` in set ``set_index`` (either may be an expression)."""
        rows = Array(Array(self.tags[s][v].as_value() for v in range(self.geometry.ways))
                     for s in range(self.geometry.sets))
        return data.View(self.tag_layout, rows[set_index][way])

    def data_read(self, way, address, label):
        return self.probe.memory_read(f"data{way}", address, label=label)


# -- The specification ------------------------------------------------------------------------

def _word(line, index):
    """Word ``index`` (an expression) of a 512-bit line, as a four-way multiplexer."""
    return Array(line[128 * i:128 * (i + 1)] for i in range(WORDS_PER_LINE))[index]


def _merge(old, new, strobe):
    return Cat(*(Mux(strobe[i], new[8 * i:8 * i + 8], old[8 * i:8 * i + 8]) for i in range(16)))


class CacheSpec(Elaboratable):
    """The cache in a free environment, with the properties selected.

    Parameters
    ----------
    refinement : bool
        Track line ``A``/word ``w`` and its data (property 2).
    retire : bool
        Retirement postconditions (property 3; the data clause needs ``refinement``).
    latency : int or None
        Bounded environment with latency ``M`` and response bounds (property 4).
    invariants : bool
        Assert the inductive invariants (k-induction); PDR and BMC/cover runs need none.
    covers : bool
        Add the covers.
    """

    def __init__(self, *, refinement=False, retire=False, latency=None, invariants=True,
                 covers=False, alias=True, stream_data=None,
                 bounds=("request", "sets", "retire_scan")):
        self.cache = design()
        self.refinement = refinement
        self.retire = retire
        self.latency = latency
        self.invariants = invariants
        self.covers = covers
        self.alias = alias
        self.bounds = bounds
        self.stream_data = refinement if stream_data is None else stream_data
        self.sync = ClockDomain("sync")
        self.ports = [self.sync.clk]

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.sync
        m.d.comb += ResetSignal("sync").eq(Initial())
        cache = self.cache
        fragment = Fragment.get(cache, platform)
        m.submodules.dut = fragment
        d = CacheView(cache, fragment)
        self.d = d
        geo = d.geometry
        keyid_bits = CONFIG.keyid_bits
        M = self.latency

        # -- free environment -------------------------------------------------------------
        for stream_in in (cache.req, cache.maint):
            bits = stream_in.payload.as_value()
            m.d.comb += [stream_in.valid.eq(AnySeq(1)), bits.eq(AnySeq(len(bits)))]
        for ready in (cache.resp.ready, cache.maint_done.ready, cache.wb.ready,
                      cache.fill_req.ready):
            m.d.comb += ready.eq(AnySeq(1))
        m.d.comb += [cache.retire.valid.eq(AnySeq(1)),
                     cache.retire.keyid.eq(AnySeq(keyid_bits)),
                     cache.retire.all.eq(AnySeq(1))]

        # The key table's retire handshake: held, with its KeyID, until done.
        retire_wait = Signal()
        retire_last = Signal(keyid_bits + 1)
        retire_now = Cat(cache.retire.keyid, cache.retire.all)
        m.d.sync += [retire_wait.eq(cache.retire.valid & ~cache.retire.done),
                     retire_last.eq(retire_now)]
        with m.If(retire_wait):
            m.d.comb += Assume(cache.retire.valid & (retire_now == retire_last))
        self.retire_wait = retire_wait

        req_hs = Signal()
        resp_hs = Signal()
        maint_hs = Signal()
        done_hs = Signal()
        wb_hs = Signal()
        fill_hs = Signal()
        answer_hs = Signal()
        m.d.comb += [
            req_hs.eq(cache.req.valid & cache.req.ready),
            resp_hs.eq(cache.resp.valid & cache.resp.ready),
            maint_hs.eq(cache.maint.valid & cache.maint.ready),
            done_hs.eq(cache.maint_done.valid & cache.maint_done.ready),
            wb_hs.eq(cache.wb.valid & cache.wb.ready),
            fill_hs.eq(cache.fill_req.valid & cache.fill_req.ready),
            answer_hs.eq(cache.fill_resp.valid & cache.fill_resp.ready),
        ]

        # -- the memory: answers fills in order (the cache has one outstanding) -------------
        fill_pending = Signal()
        fill_line = Signal(geo.line_bits)
        fill_keyid = Signal(keyid_bits)
        with m.If(fill_hs):
            m.d.sync += [fill_pending.eq(1), fill_line.eq(cache.fill_req.payload.line),
                         fill_keyid.eq(cache.fill_req.payload.keyid)]
        with m.Elif(answer_hs):
            m.d.sync += fill_pending.eq(0)
        answer = Signal(512)
        m.d.comb += [cache.fill_resp.valid.eq(fill_pending & AnySeq(1)),
                     answer.eq(AnySeq(512))]
        self.fill_pending, self.fill_line, self.fill_keyid = fill_pending, fill_line, fill_keyid

        # -- contract: one request or operation at a time, nothing from nothing -------------
        outstanding = Signal()
        out_req = Signal(WordRequest(CONFIG))
        maint_open = Signal()
        maint_op = Signal(2)
        with m.If(req_hs):
            m.d.sync += [outstanding.eq(1), out_req.eq(cache.req.payload)]
        with m.Elif(resp_hs):
            m.d.sync += outstanding.eq(0)
        with m.If(maint_hs):
            m.d.sync += [maint_open.eq(1), maint_op.eq(cache.maint.payload.op)]
        with m.Elif(done_hs):
            m.d.sync += maint_open.eq(0)
        m.d.comb += [
            Assert(~((req_hs | maint_hs) & (outstanding | maint_open))),
            Assert(~(req_hs & maint_hs)),
            Assert(~(cache.resp.valid & ~outstanding)),
            Assert(~(cache.maint_done.valid & ~maint_open)),
            Assert(~(cache.retire.done & ~cache.retire.valid)),
            Assert(~(cache.fill_req.valid & fill_pending)),
        ]
        with m.If(cache.resp.valid):
            m.d.comb += Assert(cache.resp.payload.write == out_req.write)

        # Stream rules on the cache's outputs: valid and payload hold until ready.
        outputs = [
            (cache.resp, [cache.resp.payload.write] +
             ([cache.resp.payload.data] if self.stream_data else [])),
            (cache.wb, [cache.wb.payload.line, cache.wb.payload.keyid] +
             ([cache.wb.payload.data] if self.stream_data else [])),
            (cache.fill_req, [cache.fill_req.payload.as_value()]),
            (cache.maint_done, [cache.maint_done.payload.as_value()]),
        ]
        self.stalled = {}
        for stream_out, payload in outputs:
            bits = Cat(*payload)
            stalled = Signal(name=f"{stream_out.valid.name}_stalled")
            last = Signal(len(bits), name=f"{stream_out.valid.name}_last")
            m.d.sync += [stalled.eq(stream_out.valid & ~stream_out.ready), last.eq(bits)]
            self.stalled[stream_out.valid.name.split("__")[0]] = stalled
            with m.If(stalled):
                m.d.comb += Assert(stream_out.valid & (bits == last))

        self.outstanding, self.out_req = outstanding, out_req
        self.maint_open, self.maint_op = maint_open, maint_op
        self.req_hs, self.resp_hs, self.wb_hs, self.fill_hs = req_hs, resp_hs, wb_hs, fill_hs
        self.maint_hs, self.done_hs = maint_hs, done_hs

        # -- property 1: alias exclusion -----------------------------------------------------
        if self.alias:
            for s in range(geo.sets):
                for v1 in range(geo.ways):
                    for v2 in range(v1 + 1, geo.ways):
                        t1, t2 = d.tags[s][v1], d.tags[s][v2]
                        m.d.comb += Assert(~(t1.valid & t2.valid & (t1.tag == t2.tag)),
                                           "no_alias")

        # -- the tracked line and word, pads, reference ---------------------------------------
        line_a = Signal(geo.line_bits)
        word_a = Signal(2)
        m.d.comb += [line_a.eq(AnyConst(geo.line_bits)), word_a.eq(AnyConst(2))]
        self.line_a, self.word_a = line_a, word_a

        def is_aw(request):
            return (request.address[6:] == line_a) & (request.address[4:6] == word_a)
        self.is_aw = is_aw

        if self.refinement:
            self._refinement(m, d, answer)
        else:
            m.d.comb += cache.fill_resp.payload.data.eq(answer)

        if self.retire:
            self._retire(m, d)
        if self.invariants:
            self._control_invariants(m, d)
            if self.refinement:
                self._data_invariants(m, d)
        if M is not None:
            self._latency(m, d, M)
        elif self.covers:
            self._covers(m, d)
        return m

    # -- property 2 ------------------------------------------------------------------------------

    def _refinement(self, m, d, answer):
        cache = self.cache
        line_a, word_a = self.line_a, self.word_a
        pads = [Signal(128, name=f"pad{k}") for k in range(1 << CONFIG.keyid_bits)]
        for pad in pads:
            m.d.comb += pad.eq(AnyConst(128))
        pad = Array(pads)
        self.pad = pad
        # R: reference ciphertext of (A, w); R_prev: before the outstanding request.
        ref = Signal(128)
        ref_prev = Signal(128)
        memory = Signal(128)
        expected = Signal(128)
        fill_word = Signal(128)
        self.ref, self.ref_prev, self.memory, self.expected = ref, ref_prev, memory, expected
        self.fill_word = fill_word
        payload = cache.req.payload
        with m.If(self.req_hs):
            m.d.sync += ref_prev.eq(ref)
            with m.If(self.is_aw(payload)):
                with m.If(payload.write):
                    m.d.sync += ref.eq(_merge(ref ^ pad[payload.keyid], payload.data,
                                              payload.strobe) ^ pad[payload.keyid])
                with m.Else():
                    m.d.sync += expected.eq(ref ^ pad[payload.keyid])

        # The memory behind the cache: E_k on write-back, D_k on fill.
        wb = cache.wb.payload
        with m.If(self.wb_hs & (wb.line == line_a)):
            m.d.sync += memory.eq(_word(wb.data, word_a) ^ pad[wb.keyid])
        fill = cache.fill_req.payload
        with m.If(self.fill_hs & (fill.line == line_a)):
            m.d.sync += fill_word.eq(memory ^ pad[fill.keyid])
        words = [answer.word_select(i, 128) for i in range(WORDS_PER_LINE)]
        for i in range(WORDS_PER_LINE):
            with m.If((self.fill_line == line_a) & (word_a == i)):
                m.d.comb += cache.fill_resp.payload.data.word_select(i, 128).eq(fill_word)
            with m.Else():
                m.d.comb += cache.fill_resp.payload.data.word_select(i, 128).eq(words[i])

        # The property: a read of (A, w) under k returns D_k(R).
        with m.If(cache.resp.valid & ~self.out_req.write & self.is_aw(self.out_req)):
            m.d.comb += Assert(cache.resp.payload.data == expected, "read_is_reference")

    # -- property 3 ------------------------------------------------------------------------------

    def _retire(self, m, d):
        cache = self.cache
        geo = d.geometry
        start = Signal()
        m.d.comb += start.eq(d.at("IDLE") & cache.retire.valid)
        dirty_a = Signal()      # A was cached dirty under the KeyID when the retire started
        self.retire_dirty_a = dirty_a
        matches = []
        for v in range(geo.ways):
            t = d.tag_at(d.set_of(self.line_a), v)
            matches.append(t.valid & t.dirty & (t.tag == d.tag_of(self.line_a)) &
                           (cache.retire.all | (t.keyid == cache.retire.keyid)))
        with m.If(start):
            m.d.sync += dirty_a.eq(Cat(*matches).any())
        with m.If(cache.retire.done):
            for s in range(geo.sets):
                for v in range(geo.ways):
                    t = d.tags[s][v]
                    m.d.comb += Assert(~(t.valid & (cache.retire.all |
                                                    (t.keyid == cache.retire.keyid))),
                                       "retired_keyid_gone")
            m.d.comb += Assert(~cache.wb.valid)
            if self.refinement:
                with m.If(dirty_a):
                    m.d.comb += Assert(self.memory == self.ref)

    # -- invariants -------------------------------------------------------------------------------

    def _control_invariants(self, m, d):
        cache = self.cache
        geo = d.geometry
        enc = d.encoding
        m.d.comb += Assert(Cat(*(d.state == v for v in enc.values())).any())
        m.d.comb += Assert(self.outstanding == d.at(*REQUEST_STATES))
        # The reset sweep runs once, from the reset in the first cycle, over memories that
        # start empty: nothing is valid or pending during it.
        with m.If(d.at("INIT")):
            m.d.comb += Assert(~d.wb_pending & ~cache.ready)
            for s in range(geo.sets):
                for v in range(geo.ways):
                    m.d.comb += Assert(~d.tags[s][v].valid)
        with m.If(self.outstanding):
            m.d.comb += Assert(d.req.as_value() == self.out_req.as_value())
        m.d.comb += Assert(self.maint_open == (d.at(*SCAN_STATES) & ~d.scan_retire))
        m.d.comb += Assert(~(d.scan_retire & ~d.at(*SCAN_STATES)))
        with m.If(d.scan_retire):
            m.d.comb += Assert(cache.retire.valid &
                               (d.scan_keyid == cache.retire.keyid) &
                               (d.scan_op == Mux(cache.retire.all, MaintOp.FLUSH_ALL,
                                                 MaintOp.RETIRE_KEYID)))
        with m.If(self.maint_open):
            m.d.comb += Assert(d.scan_op == self.maint_op)
        m.d.comb += Assert(self.fill_pending == d.at("FILL_WAIT"))
        with m.If(self.fill_pending):
            m.d.comb += Assert((self.fill_line == d.req_line) &
                               (self.fill_keyid == d.req.keyid))
        m.d.comb += Assert(~(d.wb_pending & d.at("EVICT", "SCAN_EVICT")))
        # Scans end when memory has taken every write-back (an empty range skips the scan).
        empty_range = (d.scan_op == MaintOp.FLUSH_RANGE) & (d.scan_end <= d.scan_line)
        m.d.comb += Assert(~(d.wb_pending & d.at("SCAN_DONE") & ~empty_range))
        with m.If(d.at(*(state for state in SCAN_STATES if state != "SCAN_DONE"))):
            m.d.comb += Assert(~empty_range)
        with m.If(d.at("EVICT", "SCAN_EVICT")):
            m.d.comb += Assert(d.word_index <= WORDS_PER_LINE)
        with m.Elif(d.at("REFILL")):
            m.d.comb += Assert(d.word_index < WORDS_PER_LINE)
        with m.Else():
            m.d.comb += Assert(d.word_index == 0)

        req_set, req_tag = d.set_of(d.req_line), d.tag_of(d.req_line)

        def matches_req(t):
            return t.valid & (t.tag == req_tag)

        victim_now = d.tag_at(req_set, d.victim)
        vt = d.victim_tag
        with m.If(d.at("WAIT_WB", "EVICT", "FILL")):
            m.d.comb += Assert(victim_now.as_value() == vt.as_value())
            m.d.comb += Assert(d.alias == (vt.valid & (vt.tag == req_tag)))
            with m.If(d.alias):
                m.d.comb += Assert(vt.keyid != d.req.keyid)
            for v in range(geo.ways):
                with m.If(d.victim != v):
                    m.d.comb += Assert(~matches_req(d.tag_at(req_set, v)))
        with m.If(d.at("WAIT_WB", "EVICT")):
            m.d.comb += Assert(vt.valid & vt.dirty)
        victim_line = Cat(req_set, vt.tag)
        with m.If(d.at("FILL") & vt.valid & vt.dirty & d.wb_pending):
            m.d.comb += Assert((d.wb_line == victim_line) & (d.wb_keyid == vt.keyid))
        with m.If(d.at("FILL_WAIT", "REFILL", "REPLAY")):
            m.d.comb += Assert(~(d.wb_pending & (d.wb_line == d.req_line)))
            for v in range(geo.ways):
                with m.If(d.victim != v):
                    m.d.comb += Assert(~matches_req(d.tag_at(req_set, v)))
        with m.If(d.at("FILL_WAIT", "REFILL")):
            m.d.comb += Assert(~victim_now.valid)
        with m.If(d.at("REPLAY")):
            m.d.comb += Assert(victim_now.valid & ~victim_now.dirty &
                               (victim_now.tag == req_tag) &
                               (victim_now.keyid == d.req.keyid))

        # The read ports' registers, and their registered copies, hold what the state reads.
        for port_state, copy_state, set_index in (("TAG_READ", "LOOKUP", req_set),
                                                  ("SCAN_TAG", "SCAN_CHECK", d.scan_set)):
            for v in range(geo.ways):
                now = d.tag_at(set_index, v).as_value()
                with m.If(d.at(port_state)):
                    m.d.comb += Assert(d.tag_rd[v].as_value() == now)
                with m.If(d.at(copy_state)):
                    m.d.comb += Assert(d.tag_q[v].as_value() == now)

        # Scans.
        scan_vt_now = d.tag_at(d.scan_set, d.victim)
        ranged = d.scan_op == MaintOp.FLUSH_RANGE

        def scanned(t):
            return t.valid & ((d.scan_op == MaintOp.FLUSH_ALL) |
                              ((d.scan_op == MaintOp.RETIRE_KEYID) &
                               (t.keyid == d.scan_keyid)))

        with m.If(d.at("SCAN_WAIT_WB", "SCAN_EVICT")):
            m.d.comb += Assert(scan_vt_now.as_value() == vt.as_value())
            m.d.comb += Assert(vt.valid & vt.dirty)
            with m.Switch(d.scan_op):
                with m.Case(MaintOp.RETIRE_KEYID):
                    m.d.comb += Assert(vt.keyid == d.scan_keyid)
                with m.Case(MaintOp.FLUSH_RANGE):
                    m.d.comb += Assert(vt.tag == d.scan_tag)
                with m.Case(MaintOp.FLUSH_ALL):
                    pass
                with m.Default():
                    m.d.comb += Assert(0)
        with m.If(d.at(*SCAN_STATES) & ~ranged):
            m.d.comb += Assert(d.scan_line < geo.sets)
            for s in range(geo.sets):
                for v in range(geo.ways):
                    with m.If((s < d.scan_line) | d.at("SCAN_DRAIN", "SCAN_DONE")):
                        m.d.comb += Assert(~scanned(d.tags[s][v]))

    def _data_invariants(self, m, d):
        """Where the value of (A, w) is: the cached copy, the line buffer of a write-back,
        the fill in flight, the refill buffer, memory; each equal to what the reference
        says, under the KeyID it is held under."""
        cache = self.cache
        geo = d.geometry
        line_a, word_a, pad = self.line_a, self.word_a, self.pad
        ref, ref_prev, memory = self.ref, self.ref_prev, self.memory
        out = self.out_req
        set_a, tag_a = d.set_of(line_a), d.tag_of(line_a)
        req_set = d.set_of(d.req_line)

        # Rc: the reference as the cache must reflect it now (a write accepted but not yet
        # performed -- performed in LOOKUP on the hit, which moves to RESPOND -- not yet).
        current = Signal(128)
        m.d.comb += current.eq(Mux(self.outstanding & ~d.at("RESPOND"), ref_prev, ref))
        with m.If(self.outstanding & ~(out.write & self.is_aw(out))):
            m.d.comb += Assert(ref_prev == ref)
        with m.If(self.outstanding & out.write & self.is_aw(out)):
            m.d.comb += Assert(ref == _merge(ref_prev ^ pad[out.keyid], out.data, out.strobe) ^
                               pad[out.keyid])
        with m.If(self.outstanding & ~out.write & self.is_aw(out)):
            m.d.comb += Assert(self.expected == ref ^ pad[out.keyid])
            with m.If(d.at("RESPOND")):
                m.d.comb += Assert(d.resp_data == self.expected)

        # The read ports' data registers (LOOKUP: the requested word; EVICT, SCAN_EVICT:
        # the word before word_index).
        evict_set = Mux(d.at("EVICT"), req_set, d.scan_set)
        read_address = Mux(d.at("LOOKUP"), Cat(d.req_word, req_set),
                           Cat((d.word_index - 1)[:2], evict_set))
        for v in range(geo.ways):
            expected_word = d.data_read(v, read_address, label=f"read_reg_w{v}")
            with m.If(d.at("LOOKUP") |
                      (d.at("EVICT", "SCAN_EVICT") & (d.word_index != 0) & (d.victim == v))):
                m.d.comb += Assert(d.word_rd[v] == expected_word)

        words = [d.data_read(v, Cat(word_a, set_a), label=f"word_a_w{v}")
                 for v in range(geo.ways)]
        tags = [d.tag_at(set_a, v) for v in range(geo.ways)]
        in_a = [t.valid & (t.tag == tag_a) for t in tags]
        cached = Signal()
        m.d.comb += cached.eq(Cat(*in_a).any())
        wb_a = Signal()
        m.d.comb += wb_a.eq(d.wb_pending & (d.wb_line == line_a))
        vt = d.victim_tag
        victim_a = Signal()     # the victim of the miss being served is line A
        m.d.comb += victim_a.eq((req_set == set_a) & vt.valid & (vt.tag == tag_a))

        # Cached copies are D_k(R); clean ones are in memory.
        for v in range(geo.ways):
            with m.If(in_a[v]):
                m.d.comb += Assert(words[v] == current ^ pad[tags[v].keyid])
                with m.If(~tags[v].dirty):
                    m.d.comb += Assert(memory == current)
        # A write-back of A carries D_k(R), and is the only copy but while the miss that
        # evicted A waits to fill (the victim's tag is invalidated with the fill request).
        with m.If(wb_a):
            m.d.comb += Assert(_word(d.line_buffer, word_a) ==
                               current ^ pad[d.wb_keyid])
            with m.If(cached):
                m.d.comb += Assert(d.at("FILL") & victim_a & vt.dirty &
                                   (d.wb_keyid == vt.keyid))
        with m.If(d.at("FILL") & victim_a & vt.dirty & ~wb_a):
            m.d.comb += Assert(memory == current)
        # Nowhere else: memory has it.
        with m.If(~cached & ~wb_a):
            m.d.comb += Assert(memory == current)
        # A fill of A in flight, and the refill.
        with m.If(self.fill_pending & (self.fill_line == line_a)):
            m.d.comb += Assert(self.fill_word == current ^ pad[self.fill_keyid])
        with m.If(d.at("REFILL") & (d.req_line == line_a)):
            fill_word = _word(d.fill_buffer, word_a)
            m.d.comb += Assert(fill_word == current ^ pad[d.req.keyid])
            with m.If(d.word_index > word_a):
                m.d.comb += Assert(Array(words)[d.victim] == fill_word)
        # The line buffer while A is read out for a write-back.
        with m.If(d.at("EVICT", "SCAN_EVICT") & (evict_set == set_a) & (vt.tag == tag_a) &
                  (d.word_index >= word_a + 2)):
            m.d.comb += Assert(_word(d.line_buffer, word_a) ==
                               current ^ pad[vt.keyid])
        # During a retirement that found A dirty under its KeyID, A is under no other.
        if self.retire:
            with m.If(d.scan_retire & self.retire_dirty_a & (d.scan_op != MaintOp.FLUSH_ALL)):
                for v in range(geo.ways):
                    m.d.comb += Assert(~in_a[v] | (tags[v].keyid == d.scan_keyid))
        del cache

    # -- property 4 ------------------------------------------------------------------------------

    def _latency(self, m, d, latency):
        cache = self.cache

        waits = {}

        def at_most(condition, name):
            """``condition`` holds for at most ``latency`` consecutive cycles."""
            count = Signal(range(latency + 2), name=f"{name}_wait")
            m.d.sync += count.eq(Mux(condition, count + 1, 0))
            with m.If(count >= latency):
                m.d.comb += Assume(~condition)
            if self.invariants:
                m.d.comb += Assert(count <= latency)
            waits[name] = count

        at_most(cache.wb.valid & ~cache.wb.ready, "wb")
        at_most(cache.fill_req.valid & ~cache.fill_req.ready, "fill_req")
        at_most(self.fill_pending & ~cache.fill_resp.valid, "fill_resp")
        at_most(cache.resp.valid & ~cache.resp.ready, "resp")
        at_most(cache.maint_done.valid & ~cache.maint_done.ready, "maint_done")

        def age(start, running, limit, name):
            """Cycles since ``start`` (1 in the cycle after it), saturating past ``limit``."""
            counter = Signal(range(limit + 2), name=f"{name}_age")
            with m.If(start):
                m.d.sync += counter.eq(1)
            with m.Elif(running & (counter <= limit)):
                m.d.sync += counter.eq(counter + 1)
            return counter

        limit = request_bound(latency)
        req_age = age(self.req_hs, self.outstanding, limit, "req")
        if "request" in self.bounds:
            m.d.comb += Assert(~(self.outstanding & ~cache.resp.valid & (req_age >= limit)))
        self.req_age, self.req_limit = req_age, limit

        payload = cache.maint.payload
        count = Signal(range(2 * LINES))
        m.d.comb += count.eq(Mux(payload.end > payload.start, payload.end - payload.start, 0))
        longest = max(maint_bound(latency, MaintOp.FLUSH_RANGE, n) for n in range(2 * LINES))
        longest = max(longest, maint_bound(latency, MaintOp.FLUSH_ALL))
        ranged = Signal(range(longest + 1))
        hits = Mux(count < WAYS * SETS, count, WAYS * SETS)
        m.d.comb += ranged.eq(Mux(count == 0, 1,
                                  1 + SCAN_POSITION_CYCLES * count +
                                  hits * (SCAN_LINE_CYCLES + latency) + latency + 1))
        assert all(maint_bound(latency, MaintOp.FLUSH_RANGE, n) ==
                   (1 if n == 0 else 1 + SCAN_POSITION_CYCLES * n +
                    min(n, WAYS * SETS) * (SCAN_LINE_CYCLES + latency) + latency + 1)
                   for n in range(2 * LINES))
        maint_limit = Signal(range(longest + 1))
        with m.If(self.maint_hs):
            m.d.sync += maint_limit.eq(Mux(payload.op == MaintOp.FLUSH_RANGE, ranged,
                                           maint_bound(latency, MaintOp.FLUSH_ALL)))
        maint_age = age(self.maint_hs, self.maint_open, longest, "maint")
        checked = C(0)
        if "sets" in self.bounds:
            checked = checked | (self.maint_op != MaintOp.FLUSH_RANGE)
        if "range" in self.bounds:
            checked = checked | (self.maint_op == MaintOp.FLUSH_RANGE)
        m.d.comb += Assert(~(checked & self.maint_open & ~cache.maint_done.valid &
                             (maint_age >= maint_limit)))
        self.maint_age, self.maint_limit = maint_age, maint_limit

        # A retirement goes first: no request or operation is accepted while one is asked
        # for; it starts as soon as no request or operation is in progress, and from then
        # on takes at most a RETIRE_KEYID scan.
        m.d.comb += Assert(~((self.req_hs | self.maint_hs) & cache.retire.valid))
        free = cache.ready & ~self.outstanding & ~self.maint_open
        retiring = Signal()
        begin = cache.retire.valid & free & ~retiring & ~cache.retire.done
        with m.If(cache.retire.done):
            m.d.sync += retiring.eq(0)
        with m.Elif(begin):
            m.d.sync += retiring.eq(1)
        limit = maint_bound(latency, MaintOp.RETIRE_KEYID)
        scan_age = age(begin, retiring, limit, "retire_scan")
        if "retire_scan" in self.bounds:
            m.d.comb += Assert(~(retiring & ~cache.retire.done & (scan_age >= limit)))
        self.retire_scan_age, self.retire_scan_limit = scan_age, limit

        if self.invariants:
            # Ranking: the scan's age plus an upper bound of the cycles it has left stays
            # within its bound, and that upper bound falls by at least one every cycle.
            remaining = self._scan_remaining(m, d, latency, waits["wb"])
            with m.If(self.maint_open & ~cache.maint_done.valid):
                m.d.comb += Assert(maint_age + remaining <= maint_limit)
            with m.If(d.scan_retire):
                m.d.comb += Assert(retiring & (scan_age + remaining <= limit))
            with m.If(retiring & ~cache.retire.done):
                m.d.comb += Assert(d.scan_retire)
            with m.If(d.at("SCAN_CHECK") & d.wb_pending):
                m.d.comb += Assert(waits["wb"] >= 1)

        # End to end (a corollary of the above): from retire_valid rising.
        limit = retire_bound(latency)
        retire_age = age(cache.retire.valid & ~self.retire_wait,
                         cache.retire.valid & ~cache.retire.done, limit, "retire")
        if "retire" in self.bounds:
            m.d.comb += Assert(~(self.retire_wait & ~cache.retire.done &
                                 (retire_age >= limit)))
        self.retire_age, self.retire_limit = retire_age, limit

        if self.covers:
            # The request bound is reached: a response comes exactly at the bound.
            first_resp = cache.resp.valid & ~self.stalled["resp"]
            m.d.comb += Cover(first_resp & (req_age == self.req_limit))

    def _scan_remaining(self, m, d, latency, wb_wait):
        """An upper bound of the cycles a scan has left before SCAN_DONE, from its state:
        per hit still to come ``8 + M`` (SCAN_CHECK, SCAN_WAIT_WB up to ``M``, SCAN_EVICT 5,
        SCAN_READ, SCAN_TAG), per position still to come 3 (SCAN_READ, SCAN_TAG,
        SCAN_CHECK), ``M + 1`` to drain;
        the hit in progress by its state and ``word_index``, the write-back's wait by the
        memory's wait counter."""
        geo = d.geometry
        cost = SCAN_LINE_CYCLES + latency
        per_position = SCAN_POSITION_CYCLES
        drain = latency + 1
        width = 10
        position = d.scan_line
        ranged = d.scan_op == MaintOp.FLUSH_RANGE
        here, later = [], []
        for s in range(geo.sets):
            for v in range(geo.ways):
                t = d.tags[s][v]
                line = Cat(C(s, geo.set_bits), t.tag)
                wide = Cat(line, C(0, 1))
                targeted = t.valid & Mux(
                    d.scan_op == MaintOp.FLUSH_ALL, 1,
                    Mux(d.scan_op == MaintOp.RETIRE_KEYID, t.keyid == d.scan_keyid,
                        d.scan_op == MaintOp.FLUSH_RANGE))
                at_range = line == position[:geo.line_bits]
                in_range = (((position < wide) & (wide < d.scan_end)) |
                            ((position < wide + LINES) & (wide + LINES < d.scan_end)))
                now = Signal(name=f"scan_now_s{s}_w{v}")
                next_ = Signal(name=f"scan_later_s{s}_w{v}")
                m.d.comb += [
                    now.eq(targeted & Mux(ranged, at_range, position == s)),
                    next_.eq(targeted & ~now & Mux(ranged, in_range, position < s)),
                ]
                here.append(now)
                later.append(next_)
        hits_here = Signal(range(geo.lines + 1))
        hits_later = Signal(range(geo.lines + 1))
        m.d.comb += [hits_here.eq(sum(here)), hits_later.eq(sum(later))]
        positions_after = Signal(width)
        m.d.comb += positions_after.eq(Mux(ranged, d.scan_end - 1 - position,
                                           geo.sets - 1 - position))
        wb_left = Signal(width)     # cycles until wb_pending is seen low
        m.d.comb += wb_left.eq(Mux(d.wb_pending, latency + 1 - wb_wait, 0))
        rest = Signal(width)        # from the current hit's return to SCAN_CHECK
        m.d.comb += rest.eq(hits_later * cost + 1 + per_position * positions_after + drain)
        remaining = Signal(width)
        with m.Switch(d.state):
            with m.Case(d.encoding["SCAN_READ"]):
                m.d.comb += remaining.eq(2 + hits_here * cost + rest)
            with m.Case(d.encoding["SCAN_TAG"]):
                m.d.comb += remaining.eq(1 + hits_here * cost + rest)
            with m.Case(d.encoding["SCAN_CHECK"]):
                m.d.comb += remaining.eq(hits_here * cost + rest)
            with m.Case(d.encoding["SCAN_WAIT_WB"]):
                m.d.comb += remaining.eq(wb_left + 8 + (hits_here - 1) * cost + rest)
            with m.Case(d.encoding["SCAN_EVICT"]):
                m.d.comb += remaining.eq(7 - d.word_index + (hits_here - 1) * cost + rest)
            with m.Case(d.encoding["SCAN_DRAIN"]):
                m.d.comb += remaining.eq(wb_left + 1)
            with m.Default():
                m.d.comb += remaining.eq(0)
        return remaining

    # -- covers ----------------------------------------------------------------------------------

    def _covers(self, m, d):
        cache = self.cache
        out = self.out_req
        writer = Signal(CONFIG.keyid_bits)
        written = Signal()
        with m.If(self.req_hs & cache.req.payload.write & self.is_aw(cache.req.payload)):
            m.d.sync += [writer.eq(cache.req.payload.keyid), written.eq(1)]
        retire_wrote = Signal()
        with m.If(d.at("IDLE")):
            m.d.sync += retire_wrote.eq(0)
        with m.Elif(self.wb_hs & d.scan_retire):
            m.d.sync += retire_wrote.eq(1)
        maint_wrote = Signal()
        with m.If(self.maint_hs):
            m.d.sync += maint_wrote.eq(0)
        with m.Elif(self.wb_hs & self.maint_open):
            m.d.sync += maint_wrote.eq(1)
        m.d.comb += [
            Cover(cache.events.hit),
            Cover(cache.events.write_back & d.at("EVICT") & ~d.alias),
            Cover(cache.events.alias_eviction),
            Cover(cache.events.write_back & d.at("EVICT") & d.alias),
            Cover(cache.retire.done & retire_wrote),
            Cover(self.done_hs & (self.maint_op == MaintOp.FLUSH_RANGE) &
                  (cache.maint_done.payload.lines != 0) & maint_wrote),
            Cover(self.resp_hs & ~out.write & self.is_aw(out) & written &
                  (out.keyid != writer)),
        ]


def _cut(*wires):
    """Yosys commands that make each named wire of the cache a free value."""
    commands = []
    for wire in wires:
        commands += [f"select -assert-count 1 w:dut.{wire}", f"cutpoint w:dut.{wire}"]
    return (*commands, "opt_clean")


def tasks():
    return [
        FormalTask(
            name="cache_alias", block="KeyTaggedCache", mode="prove", engine="abc pdr",
            depth=None, unbounded=True,
            description="alias exclusion: never two valid lines with the same physical line "
                        "address (2 ways x 2 sets, 8 lines, 4 KeyIDs); contract and stream "
                        "rules",
            spec=lambda: CacheSpec(invariants=False)),
        FormalTask(
            name="cache_invariants", block="KeyTaggedCache", mode="prove",
            engine="smtbmc yices", depth=1, unbounded=True,
            description="alias exclusion and retirement (control) with the control "
                        "invariants, by k-induction",
            spec=lambda: CacheSpec(retire=True), script=MAP_TAGS),
        FormalTask(
            name="cache_retire", block="KeyTaggedCache", mode="prove", engine="abc pdr",
            depth=None, unbounded=True,
            description="at retire_done: no valid line of the KeyID (of any, retire_all), "
                        "no write-back pending",
            spec=lambda: CacheSpec(retire=True, invariants=False, alias=False)),
        FormalTask(
            name="cache_refinement", block="KeyTaggedCache", mode="prove",
            engine="smtbmc yices", depth=1, unbounded=True,
            description="a read of A under k returns D_k(R[A]) against an uncached "
                        "encrypted reference (E_k = xor with a free pad per KeyID); at "
                        "retire_done a line dirty under k is in memory",
            spec=lambda: CacheSpec(refinement=True, retire=True), script=MAP_TAGS, slow=True,
            timeout=3600),
        FormalTask(
            name="cache_response", block="KeyTaggedCache", mode="prove", engine="abc pdr",
            depth=None, unbounded=True,
            description=f"memory and requester latency M = 2: every request answered within "
                        f"{request_bound(2)} cycles of its acceptance",
            spec=lambda: CacheSpec(latency=2, invariants=False, alias=False,
                                   bounds=("request",))),
        FormalTask(
            name="cache_response_m10", block="KeyTaggedCache", mode="prove", engine="abc pdr",
            depth=None, unbounded=True,
            description=f"M = 10: every request answered within {request_bound(10)} cycles",
            spec=lambda: CacheSpec(latency=10, invariants=False, alias=False,
                                   bounds=("request",))),
        FormalTask(
            name="cache_scan_bound", block="KeyTaggedCache", mode="prove",
            engine="smtbmc yices", depth=1, unbounded=True,
            description=f"M = 2: flush-all / retire-KeyID operations done within "
                        f"{maint_bound(2, MaintOp.FLUSH_ALL)} cycles, a range of n lines "
                        f"within {scan_bound(2, 0, 0)} + {SCAN_POSITION_CYCLES}n + "
                        f"{SCAN_LINE_CYCLES + 2} min(n, {WAYS * SETS}), a retirement within "
                        f"{maint_bound(2, MaintOp.RETIRE_KEYID)} of the cache being free; "
                        f"retirements go first (ranking invariant)",
            spec=lambda: CacheSpec(latency=2, bounds=SCAN_BOUNDS), script=MAP_TAGS),
        FormalTask(
            name="cache_scan_bound_m10", block="KeyTaggedCache", mode="prove",
            engine="smtbmc yices", depth=1, unbounded=True,
            description=f"as cache_scan_bound with M = 10 (flush-all within "
                        f"{maint_bound(10, MaintOp.FLUSH_ALL)} cycles)",
            spec=lambda: CacheSpec(latency=10, bounds=SCAN_BOUNDS), script=MAP_TAGS),
        FormalTask(
            name="cache_cover", block="KeyTaggedCache", mode="cover", engine="smtbmc yices",
            depth=COVER_DEPTH, unbounded=False,
            description="hit, dirty capacity victim, alias eviction (clean, dirty), retire "
                        "writing back, range flush writing back, read under another KeyID "
                        "than the writer's",
            spec=lambda: CacheSpec(invariants=False, covers=True), script=MAP_TAGS),
        FormalTask(
            name="cache_response_cover", block="KeyTaggedCache", mode="cover",
            engine="smtbmc yices", depth=RESPONSE_COVER_DEPTH, unbounded=False,
            description=f"M = 2: a response exactly {request_bound(2)} cycles after its "
                        f"request (the bound is tight)",
            spec=lambda: CacheSpec(latency=2, invariants=False, covers=True, alias=False,
                                   bounds=("request",)),
            script=MAP_TAGS),
    ]


def negative_tasks():
    return [
        FormalTask(
            name="cache_mutant_alias", block="KeyTaggedCache(line_match free)", mode="bmc",
            engine="smtbmc yices", depth=30, unbounded=False,
            description="a cache that may miss an alias keeps two copies of a line",
            spec=lambda: CacheSpec(invariants=False), script=_cut("line_match") + MAP_TAGS,
            breaks="no_alias"),
        FormalTask(
            name="cache_mutant_refill", block="KeyTaggedCache(fill_buffer free)", mode="bmc",
            engine="smtbmc yices", depth=16, unbounded=False,
            description="a cache that loses the filled line returns wrong data",
            spec=lambda: CacheSpec(refinement=True, invariants=False),
            script=_cut("fill_buffer") + MAP_TAGS, breaks="read_is_reference"),
        FormalTask(
            name="cache_mutant_retire", block="KeyTaggedCache(scan_keyid free)", mode="bmc",
            engine="smtbmc yices", depth=28, unbounded=False,
            description="a retirement that scans for the wrong KeyID leaves lines of the "
                        "retired one",
            spec=lambda: CacheSpec(retire=True, invariants=False, alias=False),
            script=_cut("scan_keyid") + MAP_TAGS, breaks="retired_keyid_gone"),
    ]
