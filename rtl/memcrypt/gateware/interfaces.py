"""The interfaces memcrypt's blocks are joined by: bus signatures, handshakes and payloads.

Every connection between two blocks is one of these signatures, joined with
``wiring.connect``. A signature is written from the side that *starts* a transfer (the AXI
manager, the requester of a lookup, the source of a stream); the other side holds it
flipped (``In(...)``). Each signature's docstring states the rules of its handshake.

Flat AMBA names (``s_axil_awaddr``, ``m_axi_rdata``) exist only on generated tops:
:func:`flat_ports` makes them from these signatures, so that cocotbext-axi's
``AxiBus.from_prefix`` and Vivado's interface inference recognise the buses.

Buses follow the AMBA AXI and ACE Protocol Specification, ARM IHI 0022E: Part A (AXI4) and
Part B (AXI4-Lite).
"""

from amaranth.hdl import Value, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from ..amaranth_private import PortDirection
from ..config import MemcryptConfig
from ..geometry import LINE_BITS, WORD_BITS, WORD_BYTES
from ..regmap import ADDR_WIDTH, PERF_EVENTS, FaultKind, FaultSource, KeyMode

__all__ = [
    "Response", "Burst",
    "AXI4Signature", "AXI4LiteSignature", "RegisterPortSignature",
    "RetireSignature", "EntropySignature", "FaultRecord", "FaultSignature",
    "KeyEntry", "KeyLookupSignature", "PerfEventsSignature", "CacheEventsSignature",
    "CACHE_EVENT_COUNTERS",
    "MaintOp", "WordRequest", "WordResponse", "FillRequest", "FillResponse", "WriteBack",
    "MaintRequest", "MaintDone",
    "flat_names", "flat_ports",
]


# -- AMBA -------------------------------------------------------------------------------------

class Response(enum.Enum, shape=2):
    """xRESP encoding (IHI 0022E A3.4.4)."""
    OKAY = 0b00
    EXOKAY = 0b01
    SLVERR = 0b10
    DECERR = 0b11


class Burst(enum.Enum, shape=2):
    """AxBURST encoding (IHI 0022E A3.4.1)."""
    FIXED = 0b00
    INCR = 0b01
    WRAP = 0b10


def _require_width(what, value, allowed):
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        if isinstance(allowed, range):
            choices = f"an integer from {allowed.start} to {allowed.stop - 1}"
        else:
            choices = "one of " + ", ".join(str(v) for v in allowed)
        raise ValueError(f"{what} must be {choices}, not {value!r}")
    return value


class _Signature(wiring.Signature):
    """A signature equal to another of its class with the same parameters (the read-only
    properties named in ``_parameters``), and shown with them."""

    _parameters = ()

    def _values(self):
        return tuple(getattr(self, name) for name in self._parameters)

    def __eq__(self, other):
        return type(other) is type(self) and other._values() == self._values()

    def __repr__(self):
        shown = (f"{name}={value.name if isinstance(value, MemcryptConfig) else value!r}"
                 for name, value in zip(self._parameters, self._values(), strict=True))
        return f"{type(self).__name__}({', '.join(shown)})"


class AXI4LiteSignature(_Signature):
    """AXI4-Lite, manager's view (IHI 0022E Part B).

    Five independent channels, each a VALID/READY handshake (A3.2.1): the source raises
    VALID with its payload and holds both unchanged until READY is high at a clock edge
    (A3.2.2); VALID never waits for READY, READY may wait for VALID. Every transaction is
    one beat of ``data_width`` bits; WSTRB selects the byte lanes written (A3.4.3). A write
    response (B) follows both the AW and the W handshake; a read's R follows its AR.
    Responses are OKAY or SLVERR (:class:`Response`); a read answered SLVERR carries zero
    data in memcrypt's targets. AxPROT is carried and ignored by memcrypt's targets.

    Parameters
    ----------
    addr_width : int
        Byte address width, 1 to 64.
    data_width : int
        32 or 64.

    Members
    -------
    awaddr, awprot, awvalid : Out ; awready : In
    wdata, wstrb, wvalid : Out ; wready : In
    bresp, bvalid : In ; bready : Out
    araddr, arprot, arvalid : Out ; arready : In
    rdata, rresp, rvalid : In ; rready : Out
    """

    _parameters = ("addr_width", "data_width")

    def __init__(self, *, addr_width, data_width=32):
        self._addr_width = _require_width("AXI4-Lite address width", addr_width, range(1, 65))
        self._data_width = _require_width("AXI4-Lite data width", data_width, (32, 64))
        super().__init__({
            "awaddr": Out(addr_width), "awprot": Out(3), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(data_width), "wstrb": Out(data_width // 8), "wvalid": Out(1),
            "wready": In(1),
            "bresp": In(Response), "bvalid": In(1), "bready": Out(1),
            "araddr": Out(addr_width), "arprot": Out(3), "arvalid": Out(1), "arready": In(1),
            "rdata": In(data_width), "rresp": In(Response), "rvalid": In(1), "rready": Out(1),
        })

    @property
    def addr_width(self):
        return self._addr_width

    @property
    def data_width(self):
        return self._data_width



class RegisterPortSignature(_Signature):
    """The register port behind a bus target, the target's view (the target starts every
    access; the register file answers).

    A write is one cycle with ``w_en`` high and ``w_addr``, ``w_data`` and ``w_strb``
    (one bit per byte lane written) valid; the register file takes it in that cycle and
    answers ``w_error`` (refused: no such register) combinationally in the same cycle. A
    read is one cycle with ``r_en`` high and ``r_addr`` valid; the register file answers
    ``r_data`` and ``r_error`` combinationally in that cycle, and may act on the read at
    that clock edge (latch a counter's upper half). ``w_error``, ``r_data`` and ``r_error``
    are only looked at while their ``_en`` is high. There is no backpressure: every access
    completes in its cycle; a write and a read may come in the same cycle.

    Parameters
    ----------
    addr_width : int
        Byte address width, 1 to 64.
    data_width : int
        32 or 64.

    Members
    -------
    w_en, w_addr, w_data, w_strb : Out ; w_error : In
    r_en, r_addr : Out ; r_data, r_error : In
    """

    _parameters = ("addr_width", "data_width")

    def __init__(self, *, addr_width, data_width=32):
        self._addr_width = _require_width("Register port address width", addr_width,
                                          range(1, 65))
        self._data_width = _require_width("Register port data width", data_width, (32, 64))
        super().__init__({
            "w_en": Out(1), "w_addr": Out(addr_width), "w_data": Out(data_width),
            "w_strb": Out(data_width // 8), "w_error": In(1),
            "r_en": Out(1), "r_addr": Out(addr_width), "r_data": In(data_width),
            "r_error": In(1),
        })

    @property
    def addr_width(self):
        return self._addr_width

    @property
    def data_width(self):
        return self._data_width



class AXI4Signature(_Signature):
    """AXI4, manager's view (IHI 0022E Part A), all five channels.

    Handshakes as :class:`AXI4LiteSignature` (A3.2). A burst is AxLEN + 1 beats (1 to 256
    for INCR, 2, 4, 8 or 16 for WRAP, 1 to 16 for FIXED; A3.4.1) of 2**AxSIZE bytes each,
    at most the bus width; the last beat of a write burst and of a read burst has xLAST
    high. One B per write burst, after its last W beat and its AW; R beats carry the ARID
    of their burst. Transactions with the same ID complete in order (A5.3.1). AxLOCK,
    AxCACHE, AxPROT and AxQOS are carried; what a block does with them is in its own
    docstring.

    Parameters
    ----------
    addr_width : int
        Byte address width, 12 to 64.
    data_width : int
        8, 16, 32, 64, 128, 256, 512 or 1024.
    id_width : int
        0 to 32; with 0 the ID signals are left out.

    Members
    -------
    aw* (id, addr, len, size, burst, lock, cache, prot, qos, valid) : Out ; awready : In
    w* (data, strb, last, valid) : Out ; wready : In
    b* (id, resp, valid) : In ; bready : Out
    ar* (as aw*) : Out ; arready : In
    r* (id, data, resp, last, valid) : In ; rready : Out
    """

    _parameters = ("addr_width", "data_width", "id_width")

    def __init__(self, *, addr_width, data_width, id_width=0):
        self._addr_width = _require_width("AXI4 address width", addr_width, range(12, 65))
        self._data_width = _require_width("AXI4 data width", data_width,
                                          (8, 16, 32, 64, 128, 256, 512, 1024))
        self._id_width = _require_width("AXI4 ID width", id_width, range(0, 33))
        ident = {"id": id_width} if id_width else {}

        def address_channel(prefix):
            fields = {**ident, "addr": addr_width, "len": 8, "size": 3, "burst": Burst,
                      "lock": 1, "cache": 4, "prot": 3, "qos": 4}
            return {**{prefix + name: Out(shape) for name, shape in fields.items()},
                    prefix + "valid": Out(1), prefix + "ready": In(1)}

        super().__init__({
            **address_channel("aw"),
            "wdata": Out(data_width), "wstrb": Out(data_width // 8), "wlast": Out(1),
            "wvalid": Out(1), "wready": In(1),
            **{"b" + name: In(shape) for name, shape in ident.items()},
            "bresp": In(Response), "bvalid": In(1), "bready": Out(1),
            **address_channel("ar"),
            **{"r" + name: In(shape) for name, shape in ident.items()},
            "rdata": In(data_width), "rresp": In(Response), "rlast": In(1), "rvalid": In(1),
            "rready": Out(1),
        })

    @property
    def addr_width(self):
        return self._addr_width

    @property
    def data_width(self):
        return self._data_width

    @property
    def id_width(self):
        return self._id_width



# -- key management ---------------------------------------------------------------------------

def _require_config(config):
    if not isinstance(config, MemcryptConfig):
        raise TypeError(f"config must be a MemcryptConfig, not {config!r}")
    return config


class RetireSignature(_Signature):
    """"Write back and invalidate every cached line of a KeyID", requester's view (the key
    table's control block asks, the cache answers).

    The requester raises ``valid`` with ``keyid`` (or ``all``: every KeyID, when the
    platform key changes) and holds all three until it sees ``done``. The cache raises
    ``done`` for exactly one cycle, while ``valid`` is high, once no line of that KeyID is
    valid and memory has taken every write-back; the requester drops ``valid`` in the
    next cycle. ``done`` is never high while ``valid`` is low.

    Members
    -------
    valid : Out(1), keyid : Out(keyid_bits), all : Out(1)
    done : In(1)
    """

    _parameters = ("keyid_bits",)

    def __init__(self, *, keyid_bits):
        self._keyid_bits = _require_width("KeyID width", keyid_bits, range(1, 16))
        super().__init__({
            "valid": Out(1), "keyid": Out(keyid_bits), "all": Out(1), "done": In(1),
        })

    @property
    def keyid_bits(self):
        return self._keyid_bits



class EntropySignature(_Signature):
    """32-bit entropy words from a random source (a TRNG, or a testbench), source's view.

    A stream: the source raises ``valid`` with ``data`` and holds both until ``ready`` is
    high at a clock edge, which takes the word; ``valid`` never waits for ``ready``. The
    control block raises ``ready`` only while it needs words, and may wait for ``valid``
    as long as it allows (``entropy_timeout``).

    Members
    -------
    valid : Out(1), data : Out(32)
    ready : In(1)
    """

    _parameters = ()

    def __init__(self):
        super().__init__({"valid": Out(1), "data": Out(32), "ready": In(1)})



class FaultRecord(data.StructLayout):
    """A fault: the ``address`` (a physical address, KeyID bits included, or a control
    register offset), its ``keyid``, the ``source`` (:class:`~memcrypt.regmap.FaultSource`)
    and ``kind`` (:class:`~memcrypt.regmap.FaultKind`), and whether the access was a
    ``write``. The address is as wide as the wider of the two."""

    def __init__(self, config):
        _require_config(config)
        super().__init__({
            "address": max(config.phys_addr_bits, ADDR_WIDTH),
            "keyid": config.keyid_bits,
            "source": FaultSource,
            "kind": FaultKind,
            "write": 1,
        })


class FaultSignature(_Signature):
    """Fault records for the fault log, source's view (the data path reports, the control
    block logs).

    A stream: ``valid`` with ``record`` held until ``ready``. The control block holds
    ``ready`` low only in a cycle in which it logs a fault of its own, so a source waits
    at most one cycle more per such fault.

    Members
    -------
    valid : Out(1), record : Out(FaultRecord)
    ready : In(1)
    """

    _parameters = ("config",)

    def __init__(self, config):
        self._config = _require_config(config)
        super().__init__({"valid": Out(1), "record": Out(FaultRecord(config)), "ready": In(1)})

    @property
    def config(self):
        return self._config



class KeyEntry(data.StructLayout):
    """One KeyID's key-table entry: ``mode`` (:class:`~memcrypt.regmap.KeyMode`),
    ``aes256`` (the key is 256 bits), and the keys, each ``config.key_bits`` wide with
    byte k in bits 8k+7:8k, zero above the key's size: ``data_key`` (key 1), ``tweak_key``
    (key 2) and ``decrypt_key`` (key 1's decryption start key)."""

    def __init__(self, config):
        _require_config(config)
        super().__init__({
            "mode": KeyMode,
            "aes256": 1,
            "data_key": config.key_bits,
            "tweak_key": config.key_bits,
            "decrypt_key": config.key_bits,
        })


class KeyLookupSignature(_Signature):
    """A key-table lookup and its answer, requester's view.

    The requester raises ``valid`` with ``keyid`` for one cycle per lookup; lookups may
    follow each other in every cycle. The table answers each, in order and a fixed number
    of cycles later (its latency), with ``result_valid`` for one cycle, the ``result_keyid``
    looked up, its ``result`` entry and ``result_invalid`` (the KeyID has no storage; the
    entry is then zero). There is no backpressure: the requester takes every answer.

    Members
    -------
    valid : Out(1), keyid : Out(keyid_bits)
    result_valid : In(1), result_keyid : In(keyid_bits), result : In(KeyEntry),
    result_invalid : In(1)
    """

    _parameters = ("config",)

    def __init__(self, config):
        self._config = _require_config(config)
        super().__init__({
            "valid": Out(1), "keyid": Out(config.keyid_bits),
            "result_valid": In(1), "result_keyid": In(config.keyid_bits),
            "result": In(KeyEntry(config)), "result_invalid": In(1),
        })

    @property
    def config(self):
        return self._config



# -- performance events -----------------------------------------------------------------------

#: Each event strobe of the cache and the performance counter
#: (:data:`memcrypt.regmap.PERF_EVENTS`) it feeds.
CACHE_EVENT_COUNTERS = {
    "hit": "cache_hits",
    "miss": "cache_misses",
    "write_back": "write_backs",
    "alias_eviction": "alias_evictions",
    "line_flushed": "lines_flushed",
}


class CacheEventsSignature(_Signature):
    """The key-tagged cache's event strobes, source's view: each is high for one cycle per
    event (:data:`CACHE_EVENT_COUNTERS` names the counter each feeds).

    Members
    -------
    hit, miss, write_back, alias_eviction, line_flushed : Out(1)
    """

    _parameters = ()

    def __init__(self):
        super().__init__({name: Out(1) for name in CACHE_EVENT_COUNTERS})



class PerfEventsSignature(_Signature):
    """The event strobes the control block counts, source's view: one member per counter
    of :data:`memcrypt.regmap.PERF_EVENTS` that the data path feeds (``keys_programmed``
    is counted inside the control block), each high for one cycle per event. The cache's
    strobes are the sub-interface ``cache`` (:class:`CacheEventsSignature`), so that
    ``wiring.connect(m, cache.events, control.events.cache)`` joins them.

    Members
    -------
    cache : Out(CacheEventsSignature)
    host_reads, host_writes, dma_reads, dma_writes, lines_encrypted, lines_decrypted : Out(1)
    """

    OTHER_EVENTS = tuple(name for name, _doc in PERF_EVENTS
                         if name not in CACHE_EVENT_COUNTERS.values()
                         and name != "keys_programmed")

    _parameters = ()

    def __init__(self):
        super().__init__({
            "cache": Out(CacheEventsSignature()),
            **{name: Out(1) for name in self.OTHER_EVENTS},
        })


    @classmethod
    def strobe(cls, events, counter):
        """The strobe of ``events`` (an interface of this signature) that feeds the
        performance counter called ``counter``."""
        for strobe, name in CACHE_EVENT_COUNTERS.items():
            if name == counter:
                return getattr(events.cache, strobe)
        if counter in cls.OTHER_EVENTS:
            return getattr(events, counter)
        raise KeyError(f"no data-path event feeds the counter {counter!r}")


# -- the cache's streams ----------------------------------------------------------------------

class MaintOp(enum.Enum, shape=2):
    """A maintenance operation of the key-tagged cache."""
    RETIRE_KEYID = 0      # write back and invalidate every line of one KeyID
    FLUSH_ALL = 1         # ... of every KeyID
    FLUSH_RANGE = 2       # ... of the line addresses in [start, end), under any KeyID


class WordRequest(data.StructLayout):
    """A word access: stripped byte ``address`` (its low 4 bits are ignored), ``keyid``,
    ``write``, byte ``strobe`` (one bit per byte) and ``data``; byte k of the word is
    memory byte ``(address & ~15) + k``."""

    def __init__(self, config):
        _require_config(config)
        super().__init__({
            "address": config.stripped_bits,
            "keyid": config.keyid_bits,
            "write": 1,
            "strobe": WORD_BYTES,
            "data": WORD_BITS,
        })


class WordResponse(data.StructLayout):
    """The answer to a :class:`WordRequest`: the word read (a write answers with its
    ``write`` bit set); ``error``: the line could not be filled (memory answered an error),
    the word read is zero and a write was not performed."""

    def __init__(self):
        super().__init__({"data": WORD_BITS, "write": 1, "error": 1})


class FillRequest(data.StructLayout):
    """A line to fill: the stripped ``line`` address (the byte address without its 6 low
    bits) and the ``keyid`` whose key decrypts it."""

    def __init__(self, config):
        _require_config(config)
        super().__init__({"line": config.line_address_bits, "keyid": config.keyid_bits})


class FillResponse(data.StructLayout):
    """A filled 64-byte line, byte k in bits 8k+7:8k; ``error``: memory answered the fill
    with an error, ``data`` is meaningless and the line must not be installed."""

    def __init__(self):
        super().__init__({"data": LINE_BITS, "error": 1})


class WriteBack(data.StructLayout):
    """A line to write back: stripped ``line`` address, the ``keyid`` to encrypt it under,
    and its plaintext ``data``."""

    def __init__(self, config):
        _require_config(config)
        super().__init__({"line": config.line_address_bits, "keyid": config.keyid_bits,
                          "data": LINE_BITS})


class MaintRequest(data.StructLayout):
    """A maintenance operation: ``op`` (:class:`MaintOp`), the ``keyid`` of RETIRE_KEYID,
    and the line addresses ``[start, end)`` of FLUSH_RANGE (``end`` one bit wider, so the
    range can reach the top of memory)."""

    def __init__(self, config):
        _require_config(config)
        super().__init__({"op": MaintOp, "keyid": config.keyid_bits,
                          "start": config.line_address_bits,
                          "end": config.line_address_bits + 1})


class MaintDone(data.StructLayout):
    """The completion of a maintenance operation: the number of ``lines`` invalidated."""

    def __init__(self, lines_bits):
        super().__init__({"lines": unsigned(lines_bits)})


# -- generated tops ---------------------------------------------------------------------------

def flat_names(signature):
    """``[(name, path, member)]`` for every port of ``signature``: the flat name a generated
    top gives it. Parts of the path are joined with ``_`` (``s_axil_awaddr``,
    ``retire_valid``, ``events_cache_hit``), except that the members of an
    ``amaranth.lib.stream`` interface keep Amaranth's ``__`` (``i_stream__valid``,
    ``fill_req__payload``), as Amaranth itself names them."""
    ports = []

    def walk(sig, path):
        # A member's flow and sub-signature are already seen from the top (Amaranth flips
        # the members of an ``In`` sub-interface).
        for name, member in sig.members.items():
            sub_path = (*path, name)
            if member.is_port:
                ports.append((sub_path, member.flow, member, isinstance(sig, stream.Signature)))
            else:
                walk(member.signature, sub_path)

    walk(signature, ())
    result = []
    for path, flow, member, in_stream in ports:
        parts = list(path)
        name = parts[0]
        for index, part in enumerate(parts[1:], start=1):
            separator = "__" if in_stream and index == len(parts) - 1 else "_"
            name += separator + part
        result.append((name, path, flow, member))
    names = [name for name, *_ in result]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise ValueError(f"flat port names clash: {', '.join(clashes)}")
    return result


def flat_ports(component):
    """The ports of a generated top for ``component``: ``{flat name: (signal, direction)}``,
    named by :func:`flat_names`, for the ``ports=`` argument of Amaranth's ``rtlil.convert``
    and ``verilog.convert``. The component itself is the top module, so the flat names cost
    no wrapper and leave the synthesised netlist as it is (the AMBA buses keep their flat
    AMBA names, ``s_axil_awaddr``)."""
    if not isinstance(component, wiring.Component):
        raise TypeError(f"flat_ports needs a wiring.Component, not {component!r}")
    ports = {}
    for name, path, flow, _member in flat_names(component.signature):
        value = component
        for part in path:
            value = getattr(value, part)
        direction = PortDirection.Output if flow == wiring.Out else PortDirection.Input
        ports[name] = (Value.cast(value), direction)
    return ports
