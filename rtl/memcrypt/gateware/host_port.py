"""The host port: an AXI4 subordinate that turns bursts into word requests to the cache.

Follows the AMBA AXI and ACE Protocol Specification (ARM IHI 0022E), Part A:

* **Bursts** (A3.4.1): INCR of 1 to 256 beats, WRAP of 2, 4, 8 or 16 beats, FIXED of 1 to
  16 beats. Each beat of ``2**AxSIZE`` bytes is at the address A3.4.2 gives it: the first
  at AxADDR (which may be unaligned for INCR and FIXED), the next ones at the next
  ``2**AxSIZE``-aligned address (INCR), at the same address (FIXED), or wrapping at the
  ``(AxLEN + 1) * 2**AxSIZE``-byte boundary (WRAP).
* **Narrow and unaligned transfers** (A3.4.3): a beat moves only the byte lanes of its own
  bytes; write strobes outside them are ignored, read data is the whole 128-bit word the
  beat falls in (its lanes are the beat's).
* **Responses** (A3.4.4): OKAY; SLVERR for a burst AMBA forbids (reserved AxBURST, a WRAP
  of another length or with an unaligned start, AxSIZE wider than the bus, an INCR that
  crosses a 4 KiB boundary) and for a beat whose line memory failed to fill; DECERR for a
  burst whose KeyID has no key storage (at or above ``num_keys``) or any of whose bytes
  lie at or beyond ``mem_bytes``. A refused burst (SLVERR or DECERR) is answered beat for
  beat (R) or after all its W beats (B) and touches neither the cache nor memory; each is
  logged as one fault record (PROTOCOL_ERROR, INVALID_KEYID or OUT_OF_RANGE, with AxADDR,
  the KeyID and the direction). A write burst answers the worst response of its beats.
* **Ordering** (A5.3): bursts are served one at a time in the order accepted, reads and
  writes alternating when both wait, so responses on each channel come in request order
  whatever their IDs (which AMBA allows). Up to ``QUEUE_DEPTH`` requests of each kind wait
  beside the one being served.
* **Exclusive accesses** (A7.2): not supported, as AMBA allows: an exclusive access
  (AxLOCK = 1) is performed as a normal one and answered OKAY, never EXOKAY, which tells
  the manager it failed. AxCACHE, AxPROT and AxQOS are accepted and ignored.
* Write data may arrive before its address (A3.3.1); WREADY stays low until the burst it
  belongs to is served. WLAST is not checked: the beat count comes from AwLEN.
"""

from amaranth.hdl import C, Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import MemcryptConfig, require_config
from ..geometry import WORD_BITS, WORD_BYTES, WORD_OFFSET_BITS
from ..regmap import FaultKind, FaultSource
from .interfaces import (
    AXI4Signature,
    Burst,
    FaultSignature,
    Response,
    WordRequest,
    WordResponse,
)

__all__ = ["AXI4HostPort", "QUEUE_DEPTH"]

#: Requests of each kind (read, write) accepted while another is served.
QUEUE_DEPTH = 3
#: AxSIZE of a full 128-bit beat.
FULL_SIZE = WORD_OFFSET_BITS
#: A burst must not cross a 4 KiB boundary (A3.4.1).
BOUNDARY_BITS = 12


class AXI4HostPort(wiring.Component):
    """The host's AXI4 port in front of the key-tagged cache (see the module docstring for
    the protocol).

    Parameters
    ----------
    config : MemcryptConfig
        Address split, ``num_keys``, ``mem_bytes``, ``host_id_width``.

    Members
    -------
    s_axi : In(AXI4Signature(addr_width=phys_addr_bits, data_width=128, id_width=host_id_width))
        The host's bus (the port is its subordinate).
    req : Out(stream.Signature(WordRequest(config)))
        One word request per beat of an accepted burst, at the beat's stripped address
        under the burst's KeyID.
    resp : In(stream.Signature(WordResponse()))
        The cache's answer to each request, in order.
    fault : Out(FaultSignature(config))
        One record per refused burst.
    reads, writes : Out(1)
        High for one cycle when a read (write) request is accepted (the host_reads and
        host_writes counters).
    enable : In(1)
        Requests are accepted only while high (the controller holds it low until the key
        table, the platform key and the cache are initialised).
    """

    def __init__(self, config: MemcryptConfig):
        self._config = require_config(self, config)
        super().__init__({
            "s_axi": In(AXI4Signature(addr_width=config.phys_addr_bits, data_width=WORD_BITS,
                                      id_width=config.host_id_width)),
            "req": Out(stream.Signature(WordRequest(config))),
            "resp": In(stream.Signature(WordResponse())),
            "fault": Out(FaultSignature(config)),
            "reads": Out(1),
            "writes": Out(1),
            "enable": In(1),
        })

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        config = self._config
        axi = self.s_axi
        id_width = max(1, config.host_id_width)
        request_layout = data.StructLayout({
            "id": id_width, "addr": config.phys_addr_bits, "len": 8, "size": 3,
            "burst": Burst})

        # Requests wait in one queue per direction.
        queues = {}
        for kind, prefix, strobe in (("read", "ar", self.reads), ("write", "aw", self.writes)):
            queue = fifo.SyncFIFOBuffered(width=request_layout.size, depth=QUEUE_DEPTH)
            m.submodules[f"{kind}_queue"] = queue
            incoming = Signal(request_layout, name=f"{prefix}_request")
            m.d.comb += [
                incoming.addr.eq(getattr(axi, prefix + "addr")),
                incoming.len.eq(getattr(axi, prefix + "len")),
                incoming.size.eq(getattr(axi, prefix + "size")),
                incoming.burst.eq(getattr(axi, prefix + "burst")),
                queue.w_data.eq(incoming),
                queue.w_en.eq(getattr(axi, prefix + "valid") & self.enable),
                getattr(axi, prefix + "ready").eq(queue.w_rdy & self.enable),
                strobe.eq(getattr(axi, prefix + "valid") & queue.w_rdy & self.enable),
            ]
            if config.host_id_width:
                m.d.comb += incoming.id.eq(getattr(axi, prefix + "id"))
            queues[kind] = queue

        # The burst being served.
        burst = Signal(request_layout, name="burst")
        write = Signal(name="burst_write")
        keyid = Signal(config.keyid_bits, name="burst_keyid")
        beat_address = Signal(config.stripped_bits, name="beat_address")
        beats_left = Signal(8, name="beats_left")
        wrap_mask = Signal(BOUNDARY_BITS, name="wrap_mask")
        refusal = Signal(Response, name="refusal")     # OKAY: the burst is served
        fault_kind = Signal(FaultKind, init=FaultKind.PROTOCOL_ERROR, name="refusal_kind")
        worst = Signal(Response, name="write_response")
        beat_data = Signal(WORD_BITS, name="beat_data")
        beat_response = Signal(Response, name="beat_response")
        prefer_write = Signal(name="prefer_write")

        size_bytes = Signal(range(2 * WORD_BYTES + 1), name="size_bytes")
        m.d.comb += size_bytes.eq(Mux(burst.size <= FULL_SIZE, 1 << burst.size, 0))
        # Beat addresses (A3.4.2): aligned to the size after the first, wrapping for WRAP.
        aligned = Signal(config.stripped_bits, name="beat_aligned")
        m.d.comb += aligned.eq(_align(beat_address, size_bytes))
        incremented = Signal(config.stripped_bits, name="beat_incremented")
        m.d.comb += incremented.eq(aligned + size_bytes)
        next_address = Signal(config.stripped_bits, name="next_beat_address")
        with m.Switch(burst.burst):
            with m.Case(Burst.FIXED):
                m.d.comb += next_address.eq(beat_address)
            with m.Case(Burst.WRAP):
                # A wrap window is at most 16 beats of 16 bytes: the bits above stay.
                m.d.comb += next_address.eq(Cat(
                    (beat_address[:BOUNDARY_BITS] & ~wrap_mask) |
                    (incremented[:BOUNDARY_BITS] & wrap_mask),
                    beat_address[BOUNDARY_BITS:]))
            with m.Default():
                m.d.comb += next_address.eq(incremented)
        # The beat's byte lanes: from its address to the end of its aligned size.
        lanes = Signal(WORD_BYTES, name="beat_lanes")
        all_lanes = C((1 << WORD_BYTES) - 1, WORD_BYTES)
        first_lane = beat_address[:WORD_OFFSET_BITS]
        beyond_last = Signal(WORD_OFFSET_BITS + 1, name="beat_lanes_beyond")
        m.d.comb += [
            beyond_last.eq(WORD_BYTES - aligned[:WORD_OFFSET_BITS] - size_bytes),
            lanes.eq((all_lanes << first_lane)[:WORD_BYTES] & (all_lanes >> beyond_last)),
        ]

        # The checks of a new burst, from the queue head it is taken from.
        head = Signal(request_layout, name="head")
        head_keyid = head.addr[config.stripped_bits:]
        head_stripped = head.addr[:config.stripped_bits]
        head_bytes = Signal(range(2 * WORD_BYTES + 1), name="head_size_bytes")
        m.d.comb += head_bytes.eq(Mux(head.size <= FULL_SIZE, 1 << head.size, 0))
        head_wrap_mask = Signal(BOUNDARY_BITS, name="head_wrap_mask")
        m.d.comb += head_wrap_mask.eq(((head.len + 1) * head_bytes - 1)[:BOUNDARY_BITS])
        head_aligned = Signal(config.stripped_bits + 1, name="head_aligned")
        m.d.comb += head_aligned.eq(_align(head_stripped, head_bytes))
        # The highest byte the burst touches, one bit wider than a stripped address.
        highest = Signal(config.stripped_bits + 13, name="head_highest")
        lowest_boundary = head_stripped[BOUNDARY_BITS:]
        with m.Switch(head.burst):
            with m.Case(Burst.FIXED):
                m.d.comb += highest.eq(head_aligned + head_bytes - 1)
            with m.Case(Burst.WRAP):
                m.d.comb += highest.eq(head_stripped | head_wrap_mask)
            with m.Default():
                m.d.comb += highest.eq(head_aligned + (head.len + 1) * head_bytes - 1)
        protocol_error = Signal(name="head_protocol_error")
        wrap_length_ok = ((head.len == 1) | (head.len == 3) | (head.len == 7) |
                          (head.len == 15))
        with m.Switch(head.burst):
            with m.Case(Burst.FIXED):
                m.d.comb += protocol_error.eq(head.len > 15)
            with m.Case(Burst.WRAP):
                m.d.comb += protocol_error.eq(
                    ~wrap_length_ok | (head_stripped != head_aligned[:config.stripped_bits]))
            with m.Case(Burst.INCR):
                m.d.comb += protocol_error.eq(
                    highest[BOUNDARY_BITS:] != lowest_boundary)
            with m.Default():
                m.d.comb += protocol_error.eq(1)
        with m.If(head.size > FULL_SIZE):
            m.d.comb += protocol_error.eq(1)

        fault = self.fault
        with m.If(fault.valid & fault.ready):
            m.d.sync += fault.valid.eq(0)

        r_id = axi.rid if config.host_id_width else Signal(1)
        b_id = axi.bid if config.host_id_width else Signal(1)
        m.d.comb += [
            r_id.eq(burst.id),
            b_id.eq(burst.id),
            axi.rdata.eq(beat_data),
            axi.rresp.eq(beat_response),
            axi.rlast.eq(beats_left == 0),
            axi.bresp.eq(worst),
            self.req.payload.address.eq(beat_address),
            self.req.payload.keyid.eq(keyid),
            self.req.payload.write.eq(write),
            self.req.payload.data.eq(axi.wdata),
            self.req.payload.strobe.eq(axi.wstrb & lanes),
        ]

        with m.FSM(name="host_port"):
            with m.State("IDLE"):
                take_write = queues["write"].r_rdy & (prefer_write | ~queues["read"].r_rdy)
                take_read = queues["read"].r_rdy & ~take_write
                with m.If(take_write):
                    m.d.comb += [head.eq(queues["write"].r_data), queues["write"].r_en.eq(1)]
                with m.Else():
                    m.d.comb += head.eq(queues["read"].r_data)
                    m.d.comb += queues["read"].r_en.eq(take_read)
                with m.If(take_write | take_read):
                    m.d.sync += [
                        burst.eq(head),
                        write.eq(take_write),
                        prefer_write.eq(~take_write),
                        keyid.eq(head_keyid),
                        beat_address.eq(head_stripped),
                        beats_left.eq(head.len),
                        wrap_mask.eq(head_wrap_mask),
                        worst.eq(Response.OKAY),
                        refusal.eq(Response.OKAY),
                    ]
                    with m.If(protocol_error):
                        m.d.sync += [refusal.eq(Response.SLVERR),
                                     fault_kind.eq(FaultKind.PROTOCOL_ERROR)]
                    with m.Elif(head_keyid >= config.num_keys):
                        m.d.sync += [refusal.eq(Response.DECERR),
                                     fault_kind.eq(FaultKind.INVALID_KEYID)]
                    with m.Elif(highest >= config.mem_bytes):
                        m.d.sync += [refusal.eq(Response.DECERR),
                                     fault_kind.eq(FaultKind.OUT_OF_RANGE)]
                    m.next = "CHECK"

            with m.State("CHECK"):
                with m.If(refusal != Response.OKAY):
                    # One record per refused burst, once the previous one is logged.
                    with m.If(~fault.valid):
                        m.d.sync += [
                            fault.valid.eq(1),
                            fault.record.address.eq(burst.addr),
                            fault.record.keyid.eq(keyid),
                            fault.record.source.eq(FaultSource.HOST),
                            fault.record.kind.eq(fault_kind),
                            fault.record.write.eq(write),
                            worst.eq(refusal),
                            beat_data.eq(0),
                            beat_response.eq(refusal),
                        ]
                        m.next = "REFUSE"
                with m.Elif(write):
                    m.next = "WRITE_BEAT"
                with m.Else():
                    m.next = "READ_BEAT"

            with m.State("REFUSE"):
                # Every beat answered (R) or drained (W) without touching the cache.
                with m.If(write):
                    m.d.comb += axi.wready.eq(1)
                    with m.If(axi.wvalid):
                        m.d.sync += beats_left.eq(beats_left - 1)
                        with m.If(beats_left == 0):
                            m.next = "WRITE_RESPONSE"
                with m.Else():
                    m.d.comb += axi.rvalid.eq(1)
                    with m.If(axi.rready):
                        m.d.sync += beats_left.eq(beats_left - 1)
                        with m.If(beats_left == 0):
                            m.next = "IDLE"

            with m.State("READ_BEAT"):
                m.d.comb += self.req.valid.eq(1)
                with m.If(self.req.ready):
                    m.next = "READ_WAIT"

            with m.State("READ_WAIT"):
                m.d.comb += self.resp.ready.eq(1)
                with m.If(self.resp.valid):
                    m.d.sync += [
                        beat_data.eq(Mux(self.resp.payload.error, 0, self.resp.payload.data)),
                        beat_response.eq(Mux(self.resp.payload.error, Response.SLVERR,
                                             Response.OKAY)),
                    ]
                    m.next = "READ_DATA"

            with m.State("READ_DATA"):
                m.d.comb += axi.rvalid.eq(1)
                with m.If(axi.rready):
                    m.d.sync += [beats_left.eq(beats_left - 1),
                                 beat_address.eq(next_address)]
                    with m.If(beats_left == 0):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "READ_BEAT"

            with m.State("WRITE_BEAT"):
                # The W beat is held on the bus (WREADY low) until the cache takes it.
                m.d.comb += self.req.valid.eq(axi.wvalid)
                with m.If(axi.wvalid & self.req.ready):
                    m.d.comb += axi.wready.eq(1)
                    m.next = "WRITE_WAIT"

            with m.State("WRITE_WAIT"):
                m.d.comb += self.resp.ready.eq(1)
                with m.If(self.resp.valid):
                    with m.If(self.resp.payload.error):
                        m.d.sync += worst.eq(Mux(worst == Response.DECERR, Response.DECERR,
                                                 Response.SLVERR))
                    m.d.sync += [beats_left.eq(beats_left - 1),
                                 beat_address.eq(next_address)]
                    with m.If(beats_left == 0):
                        m.next = "WRITE_RESPONSE"
                    with m.Else():
                        m.next = "WRITE_BEAT"

            with m.State("WRITE_RESPONSE"):
                m.d.comb += axi.bvalid.eq(1)
                with m.If(axi.bready):
                    m.next = "IDLE"
        return m


def _align(address, size_bytes):
    """``address`` rounded down to a multiple of ``size_bytes`` (1 to 16): only its low
    four bits change."""
    low = address[:WORD_OFFSET_BITS] & ~(size_bytes - 1)[:WORD_OFFSET_BITS]
    return Cat(low, address[WORD_OFFSET_BITS:])
