"""The key-tagged cache: plaintext lines, tagged by line address *and* KeyID, coherent
across KeyIDs in hardware.

Caches hold plaintext tagged by address. Under memory encryption one physical line can be
reached under several KeyIDs; a cache that kept it under two at once would let the two
copies diverge, and a write-back under one key would destroy the other (the corruption
Intel TME-MK leaves to software flushes, see ``docs/references.md``). This cache keeps
at most one copy of a physical line, whatever its KeyID:

* the set index comes from the stripped physical address only, so every KeyID alias of a
  line falls into the same set;
* a lookup that finds the line under another KeyID writes that copy back (if dirty,
  encrypted under its own KeyID downstream) and invalidates it before filling the line
  under the requesting KeyID. Invariant: never two valid lines with the same physical line
  address (proven in ``formal/cache.py``).

Organisation: write-back, write-allocate, ``ways``-way set-associative, 64-byte lines of
four 128-bit words. Per way, the tags (line-address tag, KeyID, valid, dirty) and the data
are ``amaranth.lib.memory.Memory`` (block RAM); per set, tree pseudo-LRU bits in another.
Replacement: an invalid way if the set has one, else the pseudo-LRU way (tree PLRU: each
node bit points away from the half used last; with a way count that is not a power of two
the tree has the next power of two leaves, and a leaf past the last way stands for way
``leaf - ways``); an alias is always the victim.

Structure: one class per piece of the design, each adding its logic and its FSM states to
the cache's one module (so every register keeps its name, which the white-box view of
``formal/cache.py`` looks up): :class:`_Storage` (the memories, their ports and the
clearing of a set), :class:`_Lookup` (the request being served, the tag compare, the
pseudo-LRU bits and the victim choice), :class:`_FillEvict` (the victim's read-out, its
write-back, the fill and the refill), :class:`_Scan` (maintenance scans).
``KeyTaggedCache.elaborate`` holds the reset sweep, IDLE's choice of what to serve next,
and the order of the states.

Blocking: one request at a time, no hits under a miss, one miss outstanding. A write-back
overlaps the fill that replaces it (the fill is requested as soon as the victim is read
out), except when the fill is for the line being written back (an alias eviction, or a
pending write-back of the same line): then the fill waits until memory has taken the
write-back, so the fill sees it.

Timing: the tag and PLRU block-RAM outputs are registered before they are compared
(TAG_READ, SCAN_TAG), and the data and tag write addresses and data do not depend on the
comparison (only the write enables do), so no path runs from a block-RAM output through
the comparison into a block RAM. A hit is answered 3 cycles after its request is taken.

Reset: after every reset the sweep INIT clears every tag and PLRU word (one cycle per
set, ``ready`` low, nothing taken), so neither a warm reset nor block RAM without initial
contents (an ASIC) leaves a line valid; dirty lines cached before the reset are lost, as
with any reset.

States::

    reset --> INIT (one cycle per set: every tag and PLRU word cleared) --> IDLE
    IDLE --request--> TAG_READ --> LOOKUP --hit--> RESPOND --> IDLE
       LOOKUP --miss, victim clean or invalid--> FILL --> FILL_WAIT --> REFILL --> REPLAY
       FILL_WAIT --fill answered with an error--> RESPOND (error, nothing installed)
       LOOKUP --miss or alias, victim dirty--> [WAIT_WB -->] EVICT (4 words) --> FILL ...
       REPLAY --> TAG_READ --> LOOKUP (now hits) --> RESPOND
    IDLE --retire / maintenance--> SCAN_READ --> SCAN_TAG --> SCAN_CHECK
       SCAN_CHECK --line to flush, clean--> SCAN_READ (invalidated)
       SCAN_CHECK --line to flush, dirty--> [SCAN_WAIT_WB -->] SCAN_EVICT --> SCAN_READ
       SCAN_CHECK --nothing here, more sets (or lines)--> SCAN_READ
       SCAN_CHECK --nothing here, last--> SCAN_DRAIN (write-backs taken) --> SCAN_DONE
       SCAN_DONE --maint_done taken, or retire.done--> IDLE
    IDLE --empty range--> SCAN_DONE

WAIT_WB and SCAN_WAIT_WB wait for memory to take the previous write-back, which still
occupies the line buffer.

Maintenance (``maint`` stream, and the key table's ``retire`` handshake): write back
and invalidate every line of one KeyID (``RETIRE_KEYID``), of every KeyID
(``FLUSH_ALL``), or of the line addresses in ``[start, end)`` under any KeyID
(``FLUSH_RANGE``, e.g. a 4 KiB page). A scan reads each set (or each line of the range)
once, plus one more read per line it evicts; each dirty line costs its write-back.
Completion is reported only when memory has taken every write-back.
"""

from amaranth.hdl import C, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

from ..amaranth_private import reject_construction
from ..config import MemcryptConfig, require_config
from ..geometry import LINE_BITS, LINE_OFFSET_BITS, WORD_BITS, WORD_OFFSET_BITS, WORDS_PER_LINE
from .interfaces import (
    CacheEventsSignature,
    FillRequest,
    FillResponse,
    MaintDone,
    MaintOp,
    MaintRequest,
    RetireSignature,
    WordRequest,
    WordResponse,
    WriteBack,
)

__all__ = ["CacheGeometry", "KeyTaggedCache"]

#: Bits of the index of a word within its line (address bits 5:4).
WORD_INDEX_BITS = exact_log2(WORDS_PER_LINE)


class CacheGeometry:
    """Sets, ways and the split of a stripped line address into tag and set index."""

    def __init__(self, config: MemcryptConfig, ways: int, sets: int):
        if isinstance(ways, bool) or not isinstance(ways, int) or not 1 <= ways <= 8:
            raise ValueError(f"ways must be an integer from 1 to 8, not {ways!r}")
        if (isinstance(sets, bool) or not isinstance(sets, int) or sets < 1
                or sets & (sets - 1)):
            raise ValueError(f"sets must be a power of two, not {sets!r}")
        if sets > 1 << config.line_address_bits:
            raise ValueError(f"{sets} sets exceed the {1 << config.line_address_bits} lines "
                             f"of the {config.stripped_bits}-bit stripped address space")
        self.config = config
        self.ways = ways
        self.sets = sets
        self.set_bits = exact_log2(sets)
        self.line_bits = config.line_address_bits
        self.tag_bits = max(1, self.line_bits - self.set_bits)
        self.lines = ways * sets

    def tag_layout(self):
        return data.StructLayout({
            "tag": self.tag_bits,
            "keyid": self.config.keyid_bits,
            "valid": 1,
            "dirty": 1,
        })

    def set_of(self, line):
        """The set index of a line address (an expression)."""
        return line[:self.set_bits] if self.set_bits else C(0, 1)

    def tag_of(self, line):
        """The tag of a line address (an expression)."""
        return line[self.set_bits:self.set_bits + self.tag_bits]

    def line_of(self, set_index, tag):
        """The line address of ``tag`` in set ``set_index`` (expressions)."""
        return Cat(set_index[:self.set_bits], tag)[:self.line_bits] if self.set_bits else tag


class KeyTaggedCache(wiring.Component):
    """Write-back, write-allocate, set-associative cache of plaintext lines, tagged by line
    address and KeyID, never holding one line under two KeyIDs.

    Parameters
    ----------
    config : MemcryptConfig
        Address widths (stripped address, KeyID).
    ways : int
        1 to 8.
    sets : int
        A power of two.

    Members
    -------
    req : In(stream.Signature(WordRequest(config)))
        Word reads and writes, one at a time.
    resp : Out(stream.Signature(WordResponse()))
        One per request, in order: the word read (a write answers with its ``write`` bit).
    fill_req : Out(stream.Signature(FillRequest(config)))
        Line fills: the stripped line address and the KeyID whose key decrypts it.
    fill_resp : In(stream.Signature(FillResponse()))
        The plaintext line, one per ``fill_req``, in order. A response with ``error`` is
        not installed: the request that missed is answered with ``error`` (a write is not
        performed) and the line stays out of the cache.
    wb : Out(stream.Signature(WriteBack(config)))
        Line write-backs: plaintext to encrypt under ``keyid``.
    maint : In(stream.Signature(MaintRequest(config)))
        Maintenance operations (:class:`~.interfaces.MaintOp`); ``start``/``end`` are line
        addresses.
    maint_done : Out(stream.Signature(MaintDone(...)))
        One per operation, when memory has taken its write-backs: lines invalidated.
    retire : In(RetireSignature(keyid_bits=config.keyid_bits))
        The key table's retire handshake (:class:`memcrypt.gateware.control.KeyControl`
        asks): ``RETIRE_KEYID`` of ``retire.keyid`` (or ``FLUSH_ALL`` with ``retire.all``);
        ``retire.done`` is high for one cycle when it is complete.
    events : Out(CacheEventsSignature())
        Event strobes for the performance counters (``hit``, ``miss``, ``write_back``,
        ``alias_eviction``, ``line_flushed``).
    ready : Out(1)
        High once the reset sweep has invalidated every line (one cycle per set after
        reset); until then no request, operation or retirement is taken.
    """

    def __init__(self, config: MemcryptConfig, *, ways=4, sets=64):
        self._config = require_config(self, config)
        try:
            self._geometry = CacheGeometry(config, ways, sets)
        except ValueError:
            reject_construction(self)
            raise
        super().__init__({
            "req": In(stream.Signature(WordRequest(config))),
            "resp": Out(stream.Signature(WordResponse())),
            "fill_req": Out(stream.Signature(FillRequest(config))),
            "fill_resp": In(stream.Signature(FillResponse())),
            "wb": Out(stream.Signature(WriteBack(config))),
            "maint": In(stream.Signature(MaintRequest(config))),
            "maint_done": Out(stream.Signature(MaintDone(ceil_log2(self._geometry.lines + 1)))),
            "retire": In(RetireSignature(keyid_bits=config.keyid_bits)),
            "events": Out(CacheEventsSignature()),
            "ready": Out(1),
        })

    @property
    def config(self):
        return self._config

    @property
    def geometry(self):
        return self._geometry

    @property
    def ways(self):
        return self._geometry.ways

    @property
    def sets(self):
        return self._geometry.sets

    def elaborate(self, platform):
        m = Module()
        storage = _Storage(m, self._geometry)
        lookup = _Lookup(m, storage, self._config, self.resp, self.events)
        fill_evict = _FillEvict(m, storage, lookup, self.fill_req, self.fill_resp, self.wb,
                                self.events)
        scan = _Scan(m, storage, fill_evict, self.maint_done, self.retire, self.events)

        init_set = Signal(max(1, self._geometry.set_bits))
        with m.FSM(name="cache", init="INIT") as fsm:
            self.fsm = fsm      # for tests and debugging: fsm.state, fsm.decoding
            with m.State("INIT"):
                # The reset sweep: whatever the memories held (a warm reset, or block RAM
                # without initial contents), no line is valid afterwards.
                storage.clear_set(m, init_set)
                m.d.sync += init_set.eq(init_set + 1)
                with m.If(init_set == self._geometry.sets - 1):
                    m.next = "IDLE"
            with m.State("IDLE"):
                # A retirement goes first, then a maintenance operation, then a request.
                storage.read_word(m, self.req.payload.address)
                with m.If(self.retire.valid & ~scan.retire):
                    scan.start_retirement(m, self.retire)
                with m.Elif(self.maint.valid):
                    m.d.comb += self.maint.ready.eq(1)
                    scan.start_operation(m, self.maint.payload)
                with m.Elif(self.req.valid):
                    m.d.comb += self.req.ready.eq(1)
                    lookup.take_request(m, self.req.payload)
            # The states follow the state diagram's order, on which the synthesized
            # netlist (its LUT count) depends.
            lookup.add_states(m, fill_evict)
            fill_evict.add_states(m)
            lookup.add_response_state(m)
            scan.add_states(m)
        m.d.comb += self.ready.eq(~fsm.ongoing("INIT"))
        return m


def _lowest(m, mask, ways):
    """Index of the lowest set bit of ``mask`` (0 if none)."""
    index = Signal(range(max(2, ways)), name="lowest")
    for way in reversed(range(ways)):
        with m.If(mask[way]):
            m.d.comb += index.eq(way)
    return index


class _Storage:
    """The cache's memories: per way, the tags and the data; per set, the pseudo-LRU bits.

    Every state drives ``tag_read_addr`` (a set: its tags and PLRU bits) and
    ``data_read_addr`` (a word: its index in the line and the set). Each way's tag read is
    registered into ``tag_q{way}`` before anything compares it. A tag write goes to the set
    ``tag_read_addr`` addresses, so its address and data never depend on a comparison,
    only its enable does.
    """

    def __init__(self, m, geometry):
        self.geometry = geometry
        self.tag_layout = tag_layout = geometry.tag_layout()
        self.tag_read_addr = Signal(max(1, geometry.set_bits))
        self.data_read_addr = Signal(max(1, geometry.set_bits) + WORD_INDEX_BITS)
        self.tags, self.tag_writes, self.words, self.data_writes = [], [], [], []
        for way in range(geometry.ways):
            tag_mem = memory.Memory(shape=tag_layout, depth=geometry.sets, init=[])
            data_mem = memory.Memory(shape=WORD_BITS, depth=geometry.sets * WORDS_PER_LINE,
                                     init=[])
            m.submodules[f"tags{way}"] = tag_mem
            m.submodules[f"data{way}"] = data_mem
            tag_write = tag_mem.write_port()
            tag_read = tag_mem.read_port(transparent_for=(tag_write,))
            data_write = data_mem.write_port(granularity=8)
            data_read = data_mem.read_port(transparent_for=(data_write,))
            m.d.comb += [tag_read.addr.eq(self.tag_read_addr),
                         data_read.addr.eq(self.data_read_addr)]
            tag_q = Signal(tag_layout, name=f"tag_q{way}")
            m.d.sync += tag_q.eq(tag_read.data)
            self.tags.append(tag_q)
            self.tag_writes.append(tag_write)
            self.words.append(data_read.data)
            self.data_writes.append(data_write)
        self.plru_bits = max(1, (1 << ceil_log2(geometry.ways)) - 1)
        plru_mem = memory.Memory(shape=self.plru_bits, depth=geometry.sets, init=[])
        m.submodules.plru = plru_mem
        self.plru_write = plru_mem.write_port()
        plru_read = plru_mem.read_port(transparent_for=(self.plru_write,))
        m.d.comb += plru_read.addr.eq(self.tag_read_addr)
        self.plru_read_data = plru_read.data
        for tag_write in self.tag_writes:
            m.d.comb += tag_write.addr.eq(self.tag_read_addr)

    def read_set(self, m, set_index):
        """Read the tags and PLRU bits of ``set_index``."""
        m.d.comb += self.tag_read_addr.eq(set_index)

    def read_word(self, m, address):
        """Read the tags and PLRU bits of the set of byte ``address``, and its word."""
        set_index = self.geometry.set_of(address[LINE_OFFSET_BITS:])
        m.d.comb += [
            self.tag_read_addr.eq(set_index),
            self.data_read_addr.eq(Cat(address[WORD_OFFSET_BITS:LINE_OFFSET_BITS], set_index)),
        ]

    def clear_set(self, m, set_index):
        """Write every way's tag of ``set_index`` invalid and its PLRU bits zero."""
        m.d.comb += [self.tag_read_addr.eq(set_index),
                     self.plru_write.addr.eq(set_index), self.plru_write.en.eq(1)]
        for tag_write in self.tag_writes:
            m.d.comb += tag_write.en.eq(1)

    def write_tag(self, m, way, value):
        """Write ``value`` as the tag of ``way`` (an expression) in the set being read."""
        for w, tag_write in enumerate(self.tag_writes):
            m.d.comb += tag_write.data.eq(value)
            with m.If(way == w):
                m.d.comb += tag_write.en.eq(1)

    def tag_of_way(self, m, way, name="chosen_tag"):
        """The registered tag of ``way`` (an expression)."""
        tag = Signal(self.tag_layout, name=name)
        for w in range(self.geometry.ways):
            with m.If(way == w):
                m.d.comb += tag.eq(self.tags[w])
        return tag


class _Lookup:
    """The request being served (``req``) and its lookup: the tag compare of its line
    against every way of its set (``line_match``: the line under any KeyID; ``hit_ways``:
    under the request's), and the tree pseudo-LRU bits that choose a victim.

    Tree pseudo-LRU over 2^L leaves (L = ceil(log2 ways)): node n has children 2n+1 and
    2n+2; a node bit of 1 points right; each node on the path to the way used points away
    from it. A leaf beyond the last way stands for way (leaf - ways).
    """

    def __init__(self, m, storage, config, resp, events):
        self.storage = storage
        self.resp = resp
        self.events = events
        geometry = storage.geometry
        ways = geometry.ways
        self.req = req = Signal(WordRequest(config))
        self.req_line = Signal(geometry.line_bits)
        self.req_word = Signal(WORD_INDEX_BITS)
        m.d.comb += [self.req_line.eq(req.address[LINE_OFFSET_BITS:]),
                     self.req_word.eq(req.address[WORD_OFFSET_BITS:LINE_OFFSET_BITS])]
        self.req_set = geometry.set_of(self.req_line)
        self.req_tag = geometry.tag_of(self.req_line)

        tags = storage.tags
        self.line_match = Signal(ways)
        self.hit_ways = Signal(ways)
        for way in range(ways):
            m.d.comb += [
                self.line_match[way].eq(tags[way].valid & (tags[way].tag == self.req_tag)),
                self.hit_ways[way].eq(self.line_match[way] & (tags[way].keyid == req.keyid)),
            ]
        self.hit_way = _lowest(m, self.hit_ways, ways)
        self.alias_way = _lowest(m, self.line_match, ways)
        self.invalid_ways = Cat(*[~tags[way].valid for way in range(ways)])
        self.invalid_way = _lowest(m, self.invalid_ways, ways)

        self.plru = Signal(storage.plru_bits, name="plru_q")
        m.d.sync += self.plru.eq(storage.plru_read_data)
        self.plru_victim = Signal(range(max(2, ways)))
        self.levels = ceil_log2(ways)
        if ways > 1:
            node = C(0, self.levels + 1)
            leaf = C(0, 1)
            for level in range(self.levels):
                bit = Signal(name=f"plru_level{level}")
                m.d.comb += bit.eq(self.plru.bit_select(node, 1))
                leaf = Cat(bit, leaf) if level else bit
                node = (node * 2 + 1 + bit)[:self.levels + 1]
            m.d.comb += self.plru_victim.eq(Mux(leaf < ways, leaf, leaf - ways))

        self.resp_data = Signal(WORD_BITS)
        self.resp_error = Signal()       # the fill failed: answer with an error
        self.replayed = Signal()         # the lookup after a refill, not counted
        m.d.comb += [self.resp.payload.data.eq(self.resp_data),
                     self.resp.payload.write.eq(req.write),
                     self.resp.payload.error.eq(self.resp_error)]

    def plru_update(self, m, bits, used):
        """``bits`` with every node on the path to way ``used`` pointing away from it."""
        levels = self.levels
        result = Signal(self.storage.plru_bits, name="plru_next")
        m.d.comb += result.eq(bits)
        for level in range(levels):
            went_right = used[levels - 1 - level]
            for index in range(1 << level):
                with m.If((used >> (levels - level)) == index):
                    m.d.comb += result[(1 << level) - 1 + index].eq(~went_right)
        return result

    def take_request(self, m, payload):
        m.d.sync += self.req.eq(payload)
        m.next = "TAG_READ"

    def read_request_set(self, m):
        """Read the request's set and its word."""
        m.d.comb += [self.storage.tag_read_addr.eq(self.req_set),
                     self.storage.data_read_addr.eq(Cat(self.req_word, self.req_set))]

    def add_states(self, m, fill_evict):
        """TAG_READ, LOOKUP: a hit is served, a miss chooses its victim and goes to
        ``fill_evict``."""
        storage, req, ways = self.storage, self.req, self.storage.geometry.ways
        with m.State("TAG_READ"):
            self.read_request_set(m)
            m.next = "LOOKUP"

        with m.State("LOOKUP"):
            self.read_request_set(m)
            for data_write in storage.data_writes:
                m.d.comb += [data_write.addr.eq(Cat(self.req_word, self.req_set)),
                             data_write.data.eq(req.data)]
            with m.If(self.hit_ways.any()):
                m.d.comb += self.events.hit.eq(~self.replayed)
                m.d.sync += self.replayed.eq(0)
                for w in range(ways):
                    with m.If(self.hit_way == w):
                        m.d.sync += self.resp_data.eq(storage.words[w])
                with m.If(req.write):
                    for w in range(ways):
                        with m.If(self.hit_way == w):
                            m.d.comb += storage.data_writes[w].en.eq(req.strobe)
                    dirty_tag = storage.tag_of_way(m, self.hit_way, name="dirty_tag")
                    m.d.comb += dirty_tag.dirty.eq(1)
                    storage.write_tag(m, self.hit_way, dirty_tag)
                if ways > 1:
                    m.d.comb += [
                        storage.plru_write.en.eq(1),
                        storage.plru_write.addr.eq(self.req_set),
                        storage.plru_write.data.eq(self.plru_update(m, self.plru, self.hit_way)),
                    ]
                m.next = "RESPOND"
            with m.Else():
                # The victim: the line under another KeyID (an alias), else an invalid
                # way, else the pseudo-LRU way.
                m.d.comb += self.events.miss.eq(1)
                chosen = Signal.like(fill_evict.victim)
                with m.If(self.line_match.any()):
                    m.d.comb += [chosen.eq(self.alias_way), self.events.alias_eviction.eq(1)]
                with m.Elif(self.invalid_ways.any()):
                    m.d.comb += chosen.eq(self.invalid_way)
                with m.Else():
                    m.d.comb += chosen.eq(self.plru_victim)
                fill_evict.begin_miss(m, chosen, storage.tag_of_way(m, chosen),
                                      alias=self.line_match.any())

    def add_response_state(self, m):
        """RESPOND: the response waits for ``resp.ready``."""
        with m.State("RESPOND"):
            m.d.comb += self.resp.valid.eq(1)
            with m.If(self.resp.ready):
                m.d.sync += self.resp_error.eq(0)
                m.next = "IDLE"


class _FillEvict:
    """A miss: the victim's read-out into the line buffer (one word per cycle), its
    write-back, the fill of the requested line and its refill into the victim's way.

    The write-back overlaps the fill: the line buffer holds it until memory takes it
    (``wb_pending``), and a dirty victim waits (WAIT_WB, SCAN_WAIT_WB) only while the
    previous write-back still occupies the buffer. The fill of a line whose write-back
    memory has not taken yet waits for it.
    """

    def __init__(self, m, storage, lookup, fill_req, fill_resp, wb, events):
        self.storage = storage
        self.lookup = lookup
        self.fill_req, self.fill_resp, self.wb = fill_req, fill_resp, wb
        self.events = events
        geometry = storage.geometry
        self.victim = Signal(range(max(2, geometry.ways)))
        self.victim_tag = Signal(storage.tag_layout)
        self.alias = Signal()                # the victim is the requested line (an alias)
        self.line_buffer = Signal(LINE_BITS)
        self.fill_buffer = Signal(LINE_BITS)
        self.word_index = Signal(range(WORDS_PER_LINE + 1))
        self.wb_pending = Signal()
        self.wb_line = Signal(geometry.line_bits)
        self.wb_keyid = Signal(geometry.config.keyid_bits)
        m.d.comb += [
            wb.valid.eq(self.wb_pending),
            wb.payload.line.eq(self.wb_line),
            wb.payload.keyid.eq(self.wb_keyid),
            wb.payload.data.eq(self.line_buffer),
            fill_req.payload.line.eq(lookup.req_line),
            fill_req.payload.keyid.eq(lookup.req.keyid),
        ]
        with m.If(wb.valid & wb.ready):
            m.d.sync += self.wb_pending.eq(0)

    def begin_miss(self, m, way, tag, *, alias):
        """Take ``way``, whose tag is ``tag``, as the victim: a dirty one is read out and
        written back (once the line buffer is free), then the line is filled."""
        m.d.sync += [self.victim.eq(way), self.victim_tag.eq(tag), self.alias.eq(alias),
                     self.word_index.eq(0)]
        with m.If(tag.valid & tag.dirty):
            # Wait for the previous write-back to leave the line buffer.
            with m.If(~self.wb_pending):
                m.next = "EVICT"
            with m.Else():
                m.next = "WAIT_WB"
        with m.Else():
            m.next = "FILL"

    def read_out_victim(self, m, set_index):
        """Read the victim's words in ``set_index`` into the line buffer, one per cycle;
        the condition returned holds in the cycle that stores the last word."""
        storage, word_index = self.storage, self.word_index
        m.d.comb += [storage.tag_read_addr.eq(set_index),
                     storage.data_read_addr.eq(Cat(word_index[:WORD_INDEX_BITS], set_index))]
        with m.If(word_index != 0):
            for w in range(storage.geometry.ways):
                with m.If(self.victim == w):
                    m.d.sync += self.line_buffer.word_select(
                        (word_index - 1)[:WORD_INDEX_BITS], WORD_BITS).eq(storage.words[w])
        m.d.sync += word_index.eq(word_index + 1)
        return word_index == WORDS_PER_LINE

    def write_back_victim(self, m, set_index):
        """Offer the line buffer, read out of the victim in ``set_index``, as a write-back
        under the victim's KeyID."""
        m.d.sync += [
            self.wb_pending.eq(1),
            self.word_index.eq(0),
            self.wb_line.eq(self.storage.geometry.line_of(set_index, self.victim_tag.tag)),
            self.wb_keyid.eq(self.victim_tag.keyid),
        ]
        m.d.comb += self.events.write_back.eq(1)

    def add_states(self, m):
        """WAIT_WB, EVICT, FILL, FILL_WAIT, REFILL, REPLAY."""
        storage, lookup = self.storage, self.lookup
        req_set, word_index = lookup.req_set, self.word_index
        with m.State("WAIT_WB"):
            storage.read_set(m, req_set)
            with m.If(~self.wb_pending):
                m.next = "EVICT"

        with m.State("EVICT"):
            with m.If(self.read_out_victim(m, req_set)):
                self.write_back_victim(m, req_set)
                m.next = "FILL"

        with m.State("FILL"):
            storage.read_set(m, req_set)
            same_line = self.wb_pending & (self.wb_line == lookup.req_line)
            m.d.comb += self.fill_req.valid.eq(~same_line)
            with m.If(self.fill_req.valid & self.fill_req.ready):
                # The old copy (the victim, or the alias) is no longer valid.
                storage.write_tag(m, self.victim, Const(0, storage.tag_layout.size))
                m.next = "FILL_WAIT"

        with m.State("FILL_WAIT"):
            storage.read_set(m, req_set)
            m.d.comb += self.fill_resp.ready.eq(1)
            with m.If(self.fill_resp.valid & self.fill_resp.payload.error):
                # Nothing installed: the victim's way stays invalid.
                m.d.sync += [lookup.resp_data.eq(0), lookup.resp_error.eq(1),
                             lookup.replayed.eq(0)]
                m.next = "RESPOND"
            with m.Elif(self.fill_resp.valid):
                m.d.sync += [self.fill_buffer.eq(self.fill_resp.payload.data),
                             word_index.eq(0)]
                m.next = "REFILL"

        with m.State("REFILL"):
            storage.read_set(m, req_set)
            for w, data_write in enumerate(storage.data_writes):
                m.d.comb += [
                    data_write.addr.eq(Cat(word_index[:WORD_INDEX_BITS], req_set)),
                    data_write.data.eq(self.fill_buffer.word_select(
                        word_index[:WORD_INDEX_BITS], WORD_BITS)),
                ]
                with m.If(self.victim == w):
                    m.d.comb += data_write.en.eq((1 << (WORD_BITS // 8)) - 1)
            m.d.sync += word_index.eq(word_index + 1)
            with m.If(word_index == WORDS_PER_LINE - 1):
                new_tag = Signal(storage.tag_layout)
                m.d.comb += [new_tag.tag.eq(lookup.req_tag), new_tag.keyid.eq(lookup.req.keyid),
                             new_tag.valid.eq(1)]
                storage.write_tag(m, self.victim, new_tag)
                m.d.sync += word_index.eq(0)
                m.next = "REPLAY"

        with m.State("REPLAY"):
            # Read the tags and the word again: the lookup now hits (not counted).
            lookup.read_request_set(m)
            m.d.sync += lookup.replayed.eq(1)
            m.next = "TAG_READ"


class _Scan:
    """A maintenance scan: every set (``RETIRE_KEYID``, ``FLUSH_ALL``) or every line of
    ``[start, end)`` (``FLUSH_RANGE``) is read, and each line it targets is written back
    (if dirty) and invalidated, one at a time; the scan is done when memory has taken every
    write-back. ``scan_retire`` marks a scan the key table's retire handshake asked for.
    """

    def __init__(self, m, storage, fill_evict, maint_done, retire, events):
        self.storage = storage
        self.fill_evict = fill_evict
        self.maint_done, self.retire_port, self.events = maint_done, retire, events
        geometry = storage.geometry
        self.op = Signal(MaintOp, name="scan_op")
        self.keyid = Signal(geometry.config.keyid_bits, name="scan_keyid")
        # A range scan's line, or a set scan's set.
        self.line = Signal(geometry.line_bits + 1, name="scan_line")
        self.end = Signal(geometry.line_bits + 1, name="scan_end")
        self.count = Signal(ceil_log2(geometry.lines + 1), name="scan_count")
        self.retire = Signal(name="scan_retire")
        self.set = Signal(max(1, geometry.set_bits), name="scan_set")
        self.tag = Signal(geometry.tag_bits, name="scan_tag")
        m.d.comb += [
            self.set.eq(Mux(self.op == MaintOp.FLUSH_RANGE,
                            geometry.set_of(self.line[:geometry.line_bits]),
                            self.line[:max(1, geometry.set_bits)])),
            self.tag.eq(geometry.tag_of(self.line[:geometry.line_bits])),
        ]
        self.hits = Signal(geometry.ways, name="scan_hits")
        for way, t in enumerate(storage.tags):
            with m.Switch(self.op):
                with m.Case(MaintOp.RETIRE_KEYID):
                    m.d.comb += self.hits[way].eq(t.valid & (t.keyid == self.keyid))
                with m.Case(MaintOp.FLUSH_ALL):
                    m.d.comb += self.hits[way].eq(t.valid)
                with m.Case(MaintOp.FLUSH_RANGE):
                    m.d.comb += self.hits[way].eq(t.valid & (t.tag == self.tag))
        self.way = _lowest(m, self.hits, geometry.ways)
        self.last = Signal(name="scan_last")
        with m.If(self.op == MaintOp.FLUSH_RANGE):
            m.d.comb += self.last.eq(self.line + 1 >= self.end)
        with m.Else():
            m.d.comb += self.last.eq(self.line == geometry.sets - 1)

    def start_retirement(self, m, retire):
        m.d.sync += [
            self.op.eq(Mux(retire.all, MaintOp.FLUSH_ALL, MaintOp.RETIRE_KEYID)),
            self.keyid.eq(retire.keyid),
            self.line.eq(0),
            self.count.eq(0),
            self.retire.eq(1),
        ]
        m.next = "SCAN_READ"

    def start_operation(self, m, payload):
        m.d.sync += [
            self.op.eq(payload.op),
            self.keyid.eq(payload.keyid),
            self.line.eq(Mux(payload.op == MaintOp.FLUSH_RANGE, payload.start, 0)),
            self.end.eq(payload.end),
            self.count.eq(0),
            self.retire.eq(0),
        ]
        with m.If((payload.op == MaintOp.FLUSH_RANGE) & (payload.end <= payload.start)):
            m.next = "SCAN_DONE"         # an empty range
        with m.Else():
            m.next = "SCAN_READ"

    def add_states(self, m):
        """SCAN_READ, SCAN_TAG, SCAN_CHECK, SCAN_WAIT_WB, SCAN_EVICT, SCAN_DRAIN,
        SCAN_DONE."""
        storage, fill_evict = self.storage, self.fill_evict
        with m.State("SCAN_READ"):
            storage.read_set(m, self.set)
            m.next = "SCAN_TAG"

        with m.State("SCAN_TAG"):
            storage.read_set(m, self.set)
            m.next = "SCAN_CHECK"

        with m.State("SCAN_CHECK"):
            storage.read_set(m, self.set)
            with m.If(self.hits.any()):
                chosen_tag = storage.tag_of_way(m, self.way)
                m.d.comb += self.events.line_flushed.eq(1)
                m.d.sync += [fill_evict.victim.eq(self.way), fill_evict.victim_tag.eq(chosen_tag),
                             fill_evict.word_index.eq(0), self.count.eq(self.count + 1)]
                with m.If(chosen_tag.dirty):
                    with m.If(~fill_evict.wb_pending):
                        m.next = "SCAN_EVICT"
                    with m.Else():
                        m.next = "SCAN_WAIT_WB"
                with m.Else():
                    storage.write_tag(m, self.way, Const(0, storage.tag_layout.size))
                    m.next = "SCAN_READ"
            with m.Elif(self.last):
                m.next = "SCAN_DRAIN"
            with m.Else():
                m.d.sync += self.line.eq(self.line + 1)
                m.next = "SCAN_READ"

        with m.State("SCAN_WAIT_WB"):
            storage.read_set(m, self.set)
            with m.If(~fill_evict.wb_pending):
                m.next = "SCAN_EVICT"

        with m.State("SCAN_EVICT"):
            with m.If(fill_evict.read_out_victim(m, self.set)):
                fill_evict.write_back_victim(m, self.set)
                storage.write_tag(m, fill_evict.victim, Const(0, storage.tag_layout.size))
                m.next = "SCAN_READ"

        with m.State("SCAN_DRAIN"):
            # Done when memory has taken every write-back.
            with m.If(~fill_evict.wb_pending):
                m.next = "SCAN_DONE"

        with m.State("SCAN_DONE"):
            with m.If(self.retire):
                m.d.comb += self.retire_port.done.eq(1)
                m.d.sync += self.retire.eq(0)
                m.next = "IDLE"
            with m.Else():
                m.d.comb += [self.maint_done.valid.eq(1),
                             self.maint_done.payload.lines.eq(self.count)]
                with m.If(self.maint_done.ready):
                    m.next = "IDLE"
