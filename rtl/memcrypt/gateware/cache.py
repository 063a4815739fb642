"""The key-tagged cache: plaintext lines, tagged by line address *and* KeyID, coherent
across KeyIDs in hardware.

Caches hold plaintext tagged by address. Under memory encryption one physical line can be
reached under several KeyIDs; a cache that kept it under two at once would let the two
copies diverge, and a write-back under one key would destroy the other (the corruption
Intel TME-MK leaves to software flushes, see ``../shared/REFERENCES.md``). This cache keeps
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
       LOOKUP --miss or alias, victim dirty--> [WAIT_WB -->] EVICT (4 words) --> FILL ...
       REPLAY --> TAG_READ --> LOOKUP (now hits) --> RESPOND
    IDLE --retire / maintenance--> SCAN_READ --> SCAN_TAG --> SCAN_CHECK
       SCAN_CHECK --line to flush, clean--> SCAN_READ (invalidated)
       SCAN_CHECK --line to flush, dirty--> [SCAN_WAIT_WB -->] SCAN_EVICT --> SCAN_READ
       SCAN_CHECK --nothing here, more sets (or lines)--> SCAN_READ
       SCAN_CHECK --nothing here, last--> SCAN_DRAIN (write-backs taken) --> SCAN_DONE
       SCAN_DONE --maint_done taken, or retire_done--> IDLE
    IDLE --empty range--> SCAN_DONE

WAIT_WB and SCAN_WAIT_WB wait for memory to take the previous write-back, which still
occupies the line buffer.

Maintenance (``maint`` stream, and the key table's ``retire_*`` handshake): write back
and invalidate every line of one KeyID (``RETIRE_KEYID``), of every KeyID
(``FLUSH_ALL``), or of the line addresses in ``[start, end)`` under any KeyID
(``FLUSH_RANGE``, e.g. a 4 KiB page). A scan reads each set (or each line of the range)
once, plus one more read per line it evicts; each dirty line costs its write-back.
Completion is reported only when memory has taken every write-back.
"""

import enum

from amaranth.hdl import C, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

from ..amaranth_private import reject_construction
from ..config import MemcryptConfig, require_config
from ..regmap import PERF_EVENTS

__all__ = ["MaintOp", "CacheGeometry", "KeyTaggedCache", "request_layout", "WORDS_PER_LINE",
           "PERF_EVENT_OF_STROBE", "connect_key_control"]

WORDS_PER_LINE = 4

#: Each event strobe of the cache and the performance counter it feeds
#: (:data:`memcrypt.regmap.PERF_EVENTS`, counted by :class:`memcrypt.gateware.control.KeyControl`).
PERF_EVENT_OF_STROBE = {
    "hit": "cache_hits",
    "miss": "cache_misses",
    "write_back": "write_backs",
    "alias_eviction": "alias_evictions",
    "line_flushed": "lines_flushed",
}


class MaintOp(enum.IntEnum):
    RETIRE_KEYID = 0
    FLUSH_ALL = 1
    FLUSH_RANGE = 2


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

    @property
    def bytes(self):
        return self.lines * 64

    def tag_layout(self):
        return data.StructLayout({
            "tag": self.tag_bits,
            "keyid": self.config.keyid_bits,
            "valid": 1,
            "dirty": 1,
        })


def request_layout(config: MemcryptConfig) -> data.StructLayout:
    """A word access: stripped byte ``address`` (bits 3:0 ignored), ``keyid``, ``write``,
    byte ``strobe`` (16) and ``data`` (128); byte k of the word is memory byte
    ``address & ~15 + k``."""
    return data.StructLayout({
        "address": config.stripped_bits,
        "keyid": config.keyid_bits,
        "write": 1,
        "strobe": 16,
        "data": 128,
    })


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
    req : In(stream(request_layout))
        Word reads and writes, one at a time.
    resp : Out(stream: data 128, write 1)
        One per request, in order: the word read (a write answers with its ``write`` bit).
    fill_req : Out(stream: line, keyid)
        Line fills: the stripped line address (address bits above 6) and the KeyID whose key
        decrypts it.
    fill_resp : In(stream: data 512)
        The plaintext line, one per ``fill_req``, in order.
    wb : Out(stream: line, keyid, data 512)
        Line write-backs: plaintext to encrypt under ``keyid``.
    maint : In(stream: op, keyid, start, end)
        Maintenance operations (:class:`MaintOp`); ``start``/``end`` are line addresses.
    maint_done : Out(stream: lines)
        One per operation, when memory has taken its write-backs: lines invalidated.
    retire_valid, retire_keyid, retire_all : In ; retire_done : Out
        The key table's retire handshake (:class:`memcrypt.gateware.control.KeyControl`):
        ``RETIRE_KEYID`` (or ``FLUSH_ALL`` with ``retire_all``); ``retire_done`` is high
        for one cycle when it is complete.
    hit, miss, write_back, alias_eviction, line_flushed : Out(1)
        Event strobes for the performance counters.
    ready : Out(1)
        High once the reset sweep has invalidated every line (one cycle per set after
        reset); until then no request, operation or retirement is taken.
    """

    def __init__(self, config: MemcryptConfig, *, ways=2, sets=64):
        self._config = require_config(self, config)
        try:
            self._geometry = CacheGeometry(config, ways, sets)
        except ValueError:
            reject_construction(self)
            raise
        line_bits = config.line_address_bits
        super().__init__({
            "req": In(stream.Signature(request_layout(config))),
            "resp": Out(stream.Signature(data.StructLayout({"data": 128, "write": 1}))),
            "fill_req": Out(stream.Signature(data.StructLayout(
                {"line": line_bits, "keyid": config.keyid_bits}))),
            "fill_resp": In(stream.Signature(data.StructLayout({"data": 512}))),
            "wb": Out(stream.Signature(data.StructLayout(
                {"line": line_bits, "keyid": config.keyid_bits, "data": 512}))),
            "maint": In(stream.Signature(data.StructLayout({
                "op": 2, "keyid": config.keyid_bits, "start": line_bits, "end": line_bits + 1,
            }))),
            "maint_done": Out(stream.Signature(data.StructLayout(
                {"lines": ceil_log2(self._geometry.lines + 1)}))),
            "retire_valid": In(1),
            "retire_keyid": In(config.keyid_bits),
            "retire_all": In(1),
            "retire_done": Out(1),
            "hit": Out(1),
            "miss": Out(1),
            "write_back": Out(1),
            "alias_eviction": Out(1),
            "line_flushed": Out(1),
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
        geo, config = self._geometry, self._config
        ways, set_bits = geo.ways, geo.set_bits
        tag_layout = geo.tag_layout()

        # -- storage ------------------------------------------------------------------------
        tag_read_addr = Signal(max(1, set_bits))
        data_read_addr = Signal(max(1, set_bits) + 2)
        tags, tag_writes, words, data_writes = [], [], [], []
        for way in range(ways):
            tag_mem = memory.Memory(shape=tag_layout, depth=geo.sets, init=[])
            data_mem = memory.Memory(shape=128, depth=geo.sets * WORDS_PER_LINE, init=[])
            m.submodules[f"tags{way}"] = tag_mem
            m.submodules[f"data{way}"] = data_mem
            tag_write = tag_mem.write_port()
            tag_read = tag_mem.read_port(transparent_for=(tag_write,))
            data_write = data_mem.write_port(granularity=8)
            data_read = data_mem.read_port(transparent_for=(data_write,))
            m.d.comb += [tag_read.addr.eq(tag_read_addr), data_read.addr.eq(data_read_addr)]
            tag_q = Signal(tag_layout, name=f"tag_q{way}")
            m.d.sync += tag_q.eq(tag_read.data)
            tags.append(tag_q)
            tag_writes.append(tag_write)
            words.append(data_read.data)
            data_writes.append(data_write)
        plru_bits = max(1, (1 << ceil_log2(ways)) - 1)
        plru_mem = memory.Memory(shape=plru_bits, depth=geo.sets, init=[])
        m.submodules.plru = plru_mem
        plru_write = plru_mem.write_port()
        plru_read = plru_mem.read_port(transparent_for=(plru_write,))
        m.d.comb += plru_read.addr.eq(tag_read_addr)

        def set_of(line):
            return line[:set_bits] if set_bits else C(0, 1)

        def tag_of(line):
            return line[set_bits:set_bits + geo.tag_bits]

        def line_of(set_index, tag):
            return Cat(set_index[:set_bits], tag)[:geo.line_bits] if set_bits else tag

        # -- the request being served -------------------------------------------------------
        req = Signal(request_layout(config))
        req_line = Signal(geo.line_bits)
        req_word = Signal(2)
        m.d.comb += [req_line.eq(req.address[6:]), req_word.eq(req.address[4:6])]
        req_set = set_of(req_line)
        req_tag = tag_of(req_line)

        line_match = Signal(ways)
        hit_ways = Signal(ways)
        for way in range(ways):
            m.d.comb += [
                line_match[way].eq(tags[way].valid & (tags[way].tag == req_tag)),
                hit_ways[way].eq(line_match[way] & (tags[way].keyid == req.keyid)),
            ]

        def lowest(mask):
            """Index of the lowest set bit (0 if none)."""
            index = Signal(range(max(2, ways)), name="lowest")
            for way in reversed(range(ways)):
                with m.If(mask[way]):
                    m.d.comb += index.eq(way)
            return index

        hit_way = lowest(hit_ways)
        alias_way = lowest(line_match)
        invalid_ways = Cat(*[~tags[way].valid for way in range(ways)])
        invalid_way = lowest(invalid_ways)

        # Tree pseudo-LRU over 2^L leaves (L = ceil(log2 ways)): node n has children 2n+1
        # and 2n+2; a node bit of 1 points right. A leaf beyond the last way stands for way
        # (leaf - ways).
        plru = Signal(plru_bits, name="plru_q")
        m.d.sync += plru.eq(plru_read.data)
        plru_victim = Signal(range(max(2, ways)))
        if ways > 1:
            levels = ceil_log2(ways)
            node = C(0, levels + 1)
            leaf = C(0, 1)
            for level in range(levels):
                bit = Signal(name=f"plru_level{level}")
                m.d.comb += bit.eq(plru.bit_select(node, 1))
                leaf = Cat(bit, leaf) if level else bit
                node = (node * 2 + 1 + bit)[:levels + 1]
            m.d.comb += plru_victim.eq(Mux(leaf < ways, leaf, leaf - ways))

        def plru_update(bits, used):
            """``bits`` with every node on the path to way ``used`` pointing away from it."""
            result = Signal(plru_bits, name="plru_next")
            m.d.comb += result.eq(bits)
            for level in range(levels):
                went_right = used[levels - 1 - level]
                for index in range(1 << level):
                    with m.If((used >> (levels - level)) == index):
                        m.d.comb += result[(1 << level) - 1 + index].eq(~went_right)
            return result

        victim = Signal(range(max(2, ways)))
        victim_tag = Signal(tag_layout)
        line_buffer = Signal(512)
        fill_buffer = Signal(512)
        word_index = Signal(3)
        wb_pending = Signal()
        wb_line = Signal(geo.line_bits)
        wb_keyid = Signal(config.keyid_bits)
        resp_data = Signal(128)
        alias = Signal()
        replayed = Signal()

        m.d.comb += [
            self.wb.valid.eq(wb_pending),
            self.wb.payload.line.eq(wb_line),
            self.wb.payload.keyid.eq(wb_keyid),
            self.wb.payload.data.eq(line_buffer),
            self.resp.payload.data.eq(resp_data),
            self.resp.payload.write.eq(req.write),
            self.fill_req.payload.line.eq(req_line),
            self.fill_req.payload.keyid.eq(req.keyid),
        ]
        with m.If(self.wb.valid & self.wb.ready):
            m.d.sync += wb_pending.eq(0)

        # -- maintenance scan ------------------------------------------------------------
        scan_op = Signal(2)
        scan_keyid = Signal(config.keyid_bits)
        scan_line = Signal(geo.line_bits + 1)        # range scans: the line; else the set
        scan_end = Signal(geo.line_bits + 1)
        scan_count = Signal(ceil_log2(geo.lines + 1))
        scan_retire = Signal()
        scan_set = Signal(max(1, set_bits))
        scan_tag = Signal(geo.tag_bits)
        m.d.comb += [
            scan_set.eq(Mux(scan_op == MaintOp.FLUSH_RANGE, set_of(scan_line[:geo.line_bits]),
                            scan_line[:max(1, set_bits)])),
            scan_tag.eq(tag_of(scan_line[:geo.line_bits])),
        ]
        scan_hits = Signal(ways)
        for way in range(ways):
            t = tags[way]
            with m.Switch(scan_op):
                with m.Case(MaintOp.RETIRE_KEYID):
                    m.d.comb += scan_hits[way].eq(t.valid & (t.keyid == scan_keyid))
                with m.Case(MaintOp.FLUSH_ALL):
                    m.d.comb += scan_hits[way].eq(t.valid)
                with m.Case(MaintOp.FLUSH_RANGE):
                    m.d.comb += scan_hits[way].eq(t.valid & (t.tag == scan_tag))
        scan_way = lowest(scan_hits)
        scan_last = Signal()
        with m.If(scan_op == MaintOp.FLUSH_RANGE):
            m.d.comb += scan_last.eq(scan_line + 1 >= scan_end)
        with m.Else():
            m.d.comb += scan_last.eq(scan_line == geo.sets - 1)

        # Write addresses and data do not depend on the tag comparison: only the enables do.
        for w in range(ways):
            m.d.comb += tag_writes[w].addr.eq(tag_read_addr)

        def write_tag(way, value):
            for w in range(ways):
                m.d.comb += tag_writes[w].data.eq(value)
                with m.If(way == w):
                    m.d.comb += tag_writes[w].en.eq(1)

        def victim_words(set_index, next_state, after):
            """Read the victim's four words into the line buffer (one word per cycle), then
            ``after()`` and go to ``next_state``."""
            m.d.comb += [tag_read_addr.eq(set_index),
                         data_read_addr.eq(Cat(word_index[:2], set_index))]
            with m.If(word_index != 0):
                for w in range(ways):
                    with m.If(victim == w):
                        m.d.sync += line_buffer.word_select((word_index - 1)[:2], 128).eq(words[w])
            m.d.sync += word_index.eq(word_index + 1)
            with m.If(word_index == WORDS_PER_LINE):
                m.d.sync += [wb_pending.eq(1), word_index.eq(0)]
                after()
                m.next = next_state

        init_set = Signal(max(1, set_bits))
        with m.FSM(name="cache", init="INIT") as fsm:
            self.fsm = fsm      # for tests and debugging: fsm.state, fsm.decoding
            with m.State("INIT"):
                # The reset sweep: whatever the memories held (a warm reset, or block RAM
                # without initial contents), no line is valid afterwards.
                m.d.comb += [tag_read_addr.eq(init_set),
                             plru_write.addr.eq(init_set), plru_write.en.eq(1)]
                for w in range(ways):
                    m.d.comb += tag_writes[w].en.eq(1)
                m.d.sync += init_set.eq(init_set + 1)
                with m.If(init_set == geo.sets - 1):
                    m.next = "IDLE"
            with m.State("IDLE"):
                m.d.comb += [
                    tag_read_addr.eq(set_of(self.req.payload.address[6:])),
                    data_read_addr.eq(Cat(self.req.payload.address[4:6],
                                          set_of(self.req.payload.address[6:]))),
                ]
                with m.If(self.retire_valid & ~scan_retire):
                    m.d.sync += [
                        scan_op.eq(Mux(self.retire_all, MaintOp.FLUSH_ALL,
                                       MaintOp.RETIRE_KEYID)),
                        scan_keyid.eq(self.retire_keyid),
                        scan_line.eq(0),
                        scan_count.eq(0),
                        scan_retire.eq(1),
                    ]
                    m.next = "SCAN_READ"
                with m.Elif(self.maint.valid):
                    m.d.comb += self.maint.ready.eq(1)
                    m.d.sync += [
                        scan_op.eq(self.maint.payload.op),
                        scan_keyid.eq(self.maint.payload.keyid),
                        scan_line.eq(Mux(self.maint.payload.op == MaintOp.FLUSH_RANGE,
                                         self.maint.payload.start, 0)),
                        scan_end.eq(self.maint.payload.end),
                        scan_count.eq(0),
                        scan_retire.eq(0),
                    ]
                    with m.If((self.maint.payload.op == MaintOp.FLUSH_RANGE) &
                              (self.maint.payload.end <= self.maint.payload.start)):
                        m.next = "SCAN_DONE"         # an empty range
                    with m.Else():
                        m.next = "SCAN_READ"
                with m.Elif(self.req.valid):
                    m.d.comb += self.req.ready.eq(1)
                    m.d.sync += req.eq(self.req.payload)
                    m.next = "TAG_READ"

            with m.State("TAG_READ"):
                m.d.comb += [tag_read_addr.eq(req_set),
                             data_read_addr.eq(Cat(req_word, req_set))]
                m.next = "LOOKUP"

            with m.State("LOOKUP"):
                m.d.comb += [tag_read_addr.eq(req_set),
                             data_read_addr.eq(Cat(req_word, req_set))]
                for w in range(ways):
                    m.d.comb += [data_writes[w].addr.eq(Cat(req_word, req_set)),
                                 data_writes[w].data.eq(req.data)]
                with m.If(hit_ways.any()):
                    m.d.comb += self.hit.eq(~replayed)
                    m.d.sync += replayed.eq(0)
                    for w in range(ways):
                        with m.If(hit_way == w):
                            m.d.sync += resp_data.eq(words[w])
                    with m.If(req.write):
                        for w in range(ways):
                            with m.If(hit_way == w):
                                m.d.comb += data_writes[w].en.eq(req.strobe)
                        dirty_tag = Signal(tag_layout)
                        for w in range(ways):
                            with m.If(hit_way == w):
                                m.d.comb += dirty_tag.eq(tags[w])
                        m.d.comb += dirty_tag.dirty.eq(1)
                        write_tag(hit_way, dirty_tag)
                    if ways > 1:
                        m.d.comb += [
                            plru_write.en.eq(1),
                            plru_write.addr.eq(req_set),
                            plru_write.data.eq(plru_update(plru, hit_way)),
                        ]
                    m.next = "RESPOND"
                with m.Else():
                    m.d.comb += self.miss.eq(1)
                    chosen = Signal.like(victim)
                    with m.If(line_match.any()):
                        m.d.comb += [chosen.eq(alias_way), self.alias_eviction.eq(1)]
                    with m.Elif(invalid_ways.any()):
                        m.d.comb += chosen.eq(invalid_way)
                    with m.Else():
                        m.d.comb += chosen.eq(plru_victim)
                    chosen_tag = Signal(tag_layout)
                    for w in range(ways):
                        with m.If(chosen == w):
                            m.d.comb += chosen_tag.eq(tags[w])
                    m.d.sync += [victim.eq(chosen), victim_tag.eq(chosen_tag),
                                 alias.eq(line_match.any()), word_index.eq(0)]
                    with m.If(chosen_tag.valid & chosen_tag.dirty):
                        # Wait for the previous write-back to leave the line buffer.
                        with m.If(~wb_pending):
                            m.next = "EVICT"
                        with m.Else():
                            m.next = "WAIT_WB"
                    with m.Else():
                        m.next = "FILL"

            with m.State("WAIT_WB"):
                m.d.comb += tag_read_addr.eq(req_set)
                with m.If(~wb_pending):
                    m.next = "EVICT"

            with m.State("EVICT"):
                def start_write_back():
                    m.d.sync += [
                        wb_line.eq(line_of(req_set, victim_tag.tag)),
                        wb_keyid.eq(victim_tag.keyid),
                    ]
                    m.d.comb += self.write_back.eq(1)
                victim_words(req_set, "FILL", start_write_back)

            with m.State("FILL"):
                m.d.comb += [tag_read_addr.eq(req_set)]
                # The fill of a line whose write-back memory has not taken yet waits for it.
                same_line = wb_pending & (wb_line == req_line)
                m.d.comb += self.fill_req.valid.eq(~same_line)
                with m.If(self.fill_req.valid & self.fill_req.ready):
                    # The old copy (the victim, or the alias) is no longer valid.
                    write_tag(victim, Const(0, tag_layout.size))
                    m.next = "FILL_WAIT"

            with m.State("FILL_WAIT"):
                m.d.comb += [tag_read_addr.eq(req_set), self.fill_resp.ready.eq(1)]
                with m.If(self.fill_resp.valid):
                    m.d.sync += [fill_buffer.eq(self.fill_resp.payload.data), word_index.eq(0)]
                    m.next = "REFILL"

            with m.State("REFILL"):
                m.d.comb += tag_read_addr.eq(req_set)
                for w in range(ways):
                    m.d.comb += [
                        data_writes[w].addr.eq(Cat(word_index[:2], req_set)),
                        data_writes[w].data.eq(fill_buffer.word_select(word_index[:2], 128)),
                    ]
                    with m.If(victim == w):
                        m.d.comb += data_writes[w].en.eq(0xFFFF)
                m.d.sync += word_index.eq(word_index + 1)
                with m.If(word_index == WORDS_PER_LINE - 1):
                    new_tag = Signal(tag_layout)
                    m.d.comb += [new_tag.tag.eq(req_tag), new_tag.keyid.eq(req.keyid),
                                 new_tag.valid.eq(1)]
                    write_tag(victim, new_tag)
                    m.d.sync += word_index.eq(0)
                    m.next = "REPLAY"

            with m.State("REPLAY"):
                # Read the tags and the word again: the lookup now hits (not counted).
                m.d.comb += [tag_read_addr.eq(req_set),
                             data_read_addr.eq(Cat(req_word, req_set))]
                m.d.sync += replayed.eq(1)
                m.next = "TAG_READ"

            with m.State("RESPOND"):
                m.d.comb += self.resp.valid.eq(1)
                with m.If(self.resp.ready):
                    m.next = "IDLE"

            # -- maintenance ----------------------------------------------------------------
            with m.State("SCAN_READ"):
                m.d.comb += tag_read_addr.eq(scan_set)
                m.next = "SCAN_TAG"

            with m.State("SCAN_TAG"):
                m.d.comb += tag_read_addr.eq(scan_set)
                m.next = "SCAN_CHECK"

            with m.State("SCAN_CHECK"):
                m.d.comb += tag_read_addr.eq(scan_set)
                with m.If(scan_hits.any()):
                    chosen_tag = Signal(tag_layout)
                    for w in range(ways):
                        with m.If(scan_way == w):
                            m.d.comb += chosen_tag.eq(tags[w])
                    m.d.comb += self.line_flushed.eq(1)
                    m.d.sync += [victim.eq(scan_way), victim_tag.eq(chosen_tag),
                                 word_index.eq(0), scan_count.eq(scan_count + 1)]
                    with m.If(chosen_tag.dirty):
                        with m.If(~wb_pending):
                            m.next = "SCAN_EVICT"
                        with m.Else():
                            m.next = "SCAN_WAIT_WB"
                    with m.Else():
                        write_tag(scan_way, Const(0, tag_layout.size))
                        m.next = "SCAN_READ"
                with m.Elif(scan_last):
                    m.next = "SCAN_DRAIN"
                with m.Else():
                    m.d.sync += scan_line.eq(scan_line + 1)
                    m.next = "SCAN_READ"

            with m.State("SCAN_WAIT_WB"):
                m.d.comb += tag_read_addr.eq(scan_set)
                with m.If(~wb_pending):
                    m.next = "SCAN_EVICT"

            with m.State("SCAN_EVICT"):
                def invalidate_scanned():
                    m.d.sync += [
                        wb_line.eq(line_of(scan_set, victim_tag.tag)),
                        wb_keyid.eq(victim_tag.keyid),
                    ]
                    m.d.comb += self.write_back.eq(1)
                    write_tag(victim, Const(0, tag_layout.size))
                victim_words(scan_set, "SCAN_READ", invalidate_scanned)

            with m.State("SCAN_DRAIN"):
                # Done when memory has taken every write-back.
                with m.If(~wb_pending):
                    m.next = "SCAN_DONE"

            with m.State("SCAN_DONE"):
                with m.If(scan_retire):
                    m.d.comb += self.retire_done.eq(1)
                    m.d.sync += scan_retire.eq(0)
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += [self.maint_done.valid.eq(1),
                                 self.maint_done.payload.lines.eq(scan_count)]
                    with m.If(self.maint_done.ready):
                        m.next = "IDLE"
        m.d.comb += self.ready.eq(~fsm.ongoing("INIT"))
        return m


def connect_key_control(m, cache, control):
    """Wire ``cache`` to the key table's ``control`` (:class:`memcrypt.gateware.control.KeyControl`)
    in module ``m``: the retire handshake, and the cache's event strobes to their
    performance counters (:data:`PERF_EVENT_OF_STROBE`). The control block's other event
    inputs are left to the caller."""
    index = {name: position for position, (name, _doc) in enumerate(PERF_EVENTS)}
    m.d.comb += [
        cache.retire_valid.eq(control.retire_valid),
        cache.retire_keyid.eq(control.retire_keyid),
        cache.retire_all.eq(control.retire_all),
        control.retire_done.eq(cache.retire_done),
    ]
    for strobe, event in PERF_EVENT_OF_STROBE.items():
        m.d.comb += control.events[index[event]].eq(getattr(cache, strobe))
