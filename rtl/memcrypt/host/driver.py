"""A Python driver for memcrypt's control registers, over any 32-bit read and write.

The driver knows the register map (:mod:`memcrypt.regmap`) and the sequences; the bus is
yours. Give it two callables taking byte offsets in the control window:

* :class:`AsyncDriver` for coroutines, ``await read(offset) -> int`` and
  ``await write(offset, value)``: an Amaranth testbench, cocotb, asyncio.
* :class:`Driver` for plain functions, ``read(offset) -> int`` and ``write(offset, value)``:
  ``/dev/mem`` or UIO mappings, a socket to a board, a model in a test.

The logic is written once, as the coroutines of :class:`AsyncDriver`. :class:`Driver` wraps
the plain callables into coroutines that never suspend and runs each method's coroutine to
completion with ``coro.send(None)``: no event loop, and exactly the same register accesses
in the same order as the asynchronous flavour.

Key programming follows Intel's ``MKTME_KEY_PROGRAM`` (the ``PCONFIG`` leaf of Intel TME-MK;
Intel 64 and IA-32 Architectures Software Developer's Manual, Vol. 2B, PCONFIG, and the
Intel Multi-Key Total Memory Encryption Specification), with the structure's fields as
registers and a doorbell in place of the instruction:

1. write the KeyID to ``KEYID``;
2. write ``KEYID_CTRL`` = command | algorithm << 8 (the algorithm bits of
   ``IA32_TME_CAPABILITY``: bit 0 AES-XTS-128, bit 2 AES-XTS-256);
3. write the eight words of ``KEY_FIELD_1`` (the data key, or software entropy for
   ``SET_KEY_RANDOM``) and of ``KEY_FIELD_2`` (the tweak key, or entropy): byte k of a key
   is bits 8k+7:8k of the field, so word j is ``int.from_bytes(key[4j:4j+4], "little")``,
   the key zero-padded to 32 bytes;
4. write 1 to ``DOORBELL``;
5. read ``STATUS`` until ``BUSY`` = 0; ``STATUS.CODE`` is Intel's status code
   (:class:`~memcrypt.regmap.Status`).

Flushes (builds with the key-tagged cache): :meth:`AsyncDriver.flush_range` writes back and
invalidates the lines of an address range under every KeyID (a page before it is reused),
:meth:`AsyncDriver.flush_all` every line; both wait for FLUSH_STATUS to report completion.

After a reset, call :meth:`AsyncDriver.wait_ready` first: the controller is busy until its
platform key is drawn, and register writes that arrive while it is busy are ignored.

Example (synchronous)::

    drv = Driver(bus.read32, bus.write32)          # identifies the device on first use
    drv.wait_ready()
    status = drv.set_key_direct(5, data_key=bytes(range(16)), tweak_key=bytes(16))
    assert status is Status.PROG_SUCCESS
"""

import inspect
from dataclasses import dataclass
from typing import NamedTuple

from ..config import MemcryptConfig
from ..geometry import LINE_BYTES
from ..regmap import (
    ID_VALUE,
    KEY_FIELD_WORDS,
    PERF_EVENTS,
    VERSION_MAJOR,
    VERSION_MINOR,
    Algorithm,
    Block,
    Command,
    FaultKind,
    FaultSource,
    Irq,
    RegisterMap,
    Status,
    register_map,
)

__all__ = ["DeviceError", "StatusReport", "FaultRecord", "AsyncDriver", "Driver",
           "run_to_completion"]

_WORD = 0xFFFF_FFFF
_KEY_FIELD_BYTES = 4 * KEY_FIELD_WORDS


class DeviceError(RuntimeError):
    """The device answered something a memcrypt control block cannot: a wrong ID, an
    unsupported register map version, a value outside its field's meanings."""


class StatusReport(NamedTuple):
    """The decoded ``STATUS`` register."""
    code: Status      # STATUS.CODE
    busy: bool        # a command (or the reset-time platform key draw) is running
    ready: bool       # the key table is initialised and the platform key drawn
    ignored: bool     # a doorbell or command register write came while busy


@dataclass(frozen=True)
class FaultRecord:
    """One record of the fault log."""
    address: int          # the full physical address (KeyID included); offset for CONTROL
    keyid: int
    source: FaultSource
    kind: FaultKind
    write: bool


def _key_field_words(data: bytes, what: str) -> list:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{what} must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > _KEY_FIELD_BYTES:
        raise ValueError(f"{what} is {len(data)} bytes; a key field holds at most "
                         f"{_KEY_FIELD_BYTES}")
    data = data.ljust(_KEY_FIELD_BYTES, b"\0")
    return [int.from_bytes(data[4 * j:4 * j + 4], "little") for j in range(KEY_FIELD_WORDS)]


def _algorithm_for_length(length: int, what: str) -> Algorithm:
    if length not in (16, 32):
        raise ValueError(f"{what} must be 16 bytes (AES-XTS-128) or 32 bytes (AES-XTS-256), "
                         f"not {length}")
    return Algorithm.for_key_bits(8 * length)


class AsyncDriver:
    """memcrypt's control registers through ``await read(offset)`` and
    ``await write(offset, value)`` (byte offsets, 32-bit values).

    Parameters
    ----------
    read, write : async callables
        One 32-bit register access each.
    config : MemcryptConfig, optional
        The build behind the registers. When neither ``config`` nor ``regmap`` is given, the
        driver identifies the device on its first use (:meth:`identify`: the ID and VERSION
        registers are checked and the configuration is read from the CAP_* registers), so
        that first call makes those reads before its own.
    regmap : RegisterMap, optional
        The register map to use (default ``register_map(config)``); its configuration stands
        in for ``config`` when that is not given.
    """

    def __init__(self, read, write, config: MemcryptConfig | None = None,
                 regmap: RegisterMap | None = None):
        self._read = read
        self._write = write
        if config is None and regmap is not None:
            config = regmap.config
        self.config = config
        # Offsets do not depend on the configuration; the default build's map serves until
        # the device has been identified.
        self.regmap = regmap if regmap is not None else register_map(config or MemcryptConfig())
        self._identified = config is not None
        self._blocks = None          # CAP_BLOCKS, read before the first flush

    # -- raw access ---------------------------------------------------------------------------

    async def read(self, name: str) -> int:
        """Read the register ``name`` (a 32-bit value)."""
        offset = self.regmap[name].offset
        value = await self._read(offset)
        try:
            value = int(value)
        except (TypeError, ValueError):
            raise DeviceError(f"reading {name} ({offset:#05x}) gave {value!r}, "
                              f"not an integer") from None
        if not 0 <= value <= _WORD:
            raise DeviceError(f"reading {name} ({offset:#05x}) gave {value:#x}, "
                              f"wider than 32 bits")
        return value

    async def write(self, name: str, value: int) -> None:
        """Write the 32-bit ``value`` to the register ``name``."""
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _WORD:
            raise ValueError(f"{name}: {value!r} is not a 32-bit value")
        await self._write(self.regmap[name].offset, value)

    def field(self, register: str, field: str, value: int) -> int:
        """The value of ``field`` in ``value``, a word read from ``register``."""
        f = self.regmap[register].field(field)
        return (value & f.mask) >> f.lsb

    def encode(self, register: str, **fields: int) -> int:
        """A word for ``register`` with the given fields (others zero); a value too wide for
        its field raises ``ValueError``."""
        word = 0
        for name, value in fields.items():
            f = self.regmap[register].field(name)
            if isinstance(value, bool) or not isinstance(value, int) \
                    or not 0 <= value < 1 << f.width:
                raise ValueError(f"{register}.{name} is {f.width} bits wide; "
                                 f"{value!r} does not fit")
            word |= value << f.lsb
        return word

    async def _ensure_identified(self):
        if not self._identified:
            await self.identify()

    # -- identification -----------------------------------------------------------------------

    async def identify(self) -> dict:
        """Read ID, VERSION and the CAP_* registers and decode them.

        Raises :class:`DeviceError` if ID is not ``ID_VALUE`` ("MCRY") or the register map's
        major version is not the one this driver speaks. Returns a dict with ``id``,
        ``version`` (major, minor), ``enc_algs`` (:class:`Algorithm`), ``keyid_shift``,
        ``blocks`` (:class:`~memcrypt.regmap.Block`: the blocks the build contains beside
        the control block; a register or fault kind reserved for a block it lacks reads
        zero or never comes) and the :class:`MemcryptConfig` parameters
        (``phys_addr_bits``, ``keyid_bits``, ``num_keys``, ``mem_bytes``, ``key_sizes``,
        ``keyid0``, ``platform_key_loadable``, ``entropy_timeout``, ``fault_log_depth``). If
        the driver was made without a configuration, it adopts the one read here.
        """
        ident = await self.read("ID")
        if ident != ID_VALUE:
            raise DeviceError(f"ID reads {ident:#010x}, not {ID_VALUE:#010x} (\"MCRY\"): "
                              f"no memcrypt control block at this address")
        version = await self.read("VERSION")
        major = self.field("VERSION", "MAJOR", version)
        minor = self.field("VERSION", "MINOR", version)
        if major != VERSION_MAJOR:
            raise DeviceError(f"register map version {major}.{minor}; this driver speaks "
                              f"{VERSION_MAJOR}.{VERSION_MINOR}")
        keys = await self.read("CAP_KEYS")
        addr = await self.read("CAP_ADDR")
        mem_lo = await self.read("CAP_MEM_LO")
        mem_hi = await self.read("CAP_MEM_HI")
        entropy = await self.read("CAP_ENTROPY")
        blocks = await self.read("CAP_BLOCKS")
        enc_algs = self.field("CAP_KEYS", "ENC_ALGS", keys)
        key_sizes = tuple(bits for bits in (128, 256)
                          if enc_algs & Algorithm.for_key_bits(bits))
        caps = {
            "id": ident,
            "version": (major, minor),
            "phys_addr_bits": self.field("CAP_ADDR", "PHYS_ADDR_BITS", addr),
            "keyid_bits": self.field("CAP_KEYS", "KEYID_BITS", keys),
            "num_keys": self.field("CAP_KEYS", "NUM_KEYS", keys),
            "mem_bytes": mem_hi << 32 | mem_lo,
            "key_sizes": key_sizes,
            "keyid0": ("plaintext" if self.field("CAP_KEYS", "KEYID0_PLAINTEXT", keys)
                       else "platform"),
            "platform_key_loadable": bool(self.field("CAP_KEYS", "PLATFORM_KEY_LOADABLE",
                                                     keys)),
            "entropy_timeout": self.field("CAP_ENTROPY", "TIMEOUT", entropy),
            "fault_log_depth": self.field("CAP_ADDR", "FAULT_LOG_DEPTH", addr),
            "enc_algs": Algorithm(enc_algs),
            "keyid_shift": self.field("CAP_ADDR", "KEYID_SHIFT", addr),
            "blocks": _blocks(self.field("CAP_BLOCKS", "BLOCKS", blocks)),
        }
        if not self._identified:
            params = {name: caps[name] for name in (
                "phys_addr_bits", "keyid_bits", "num_keys", "mem_bytes", "key_sizes",
                "keyid0", "platform_key_loadable", "entropy_timeout", "fault_log_depth")}
            try:
                config = MemcryptConfig(**params, name="device")
            except (TypeError, ValueError) as error:
                raise DeviceError(f"the capability registers describe no valid build: "
                                  f"{error}") from None
            if config.stripped_bits != caps["keyid_shift"]:
                raise DeviceError(f"CAP_ADDR.KEYID_SHIFT reads {caps['keyid_shift']}, but "
                                  f"{config.phys_addr_bits} address bits with "
                                  f"{config.keyid_bits} KeyID bits put it at "
                                  f"{config.stripped_bits}")
            self.config = config
            self.regmap = register_map(config, caps["blocks"])
            self._identified = True
        return caps

    # -- status -------------------------------------------------------------------------------

    def _decode_status(self, value: int) -> StatusReport:
        code = self.field("STATUS", "CODE", value)
        try:
            code = Status(code)
        except ValueError:
            raise DeviceError(f"STATUS.CODE reads {code}, which is no status code") from None
        return StatusReport(code, bool(self.field("STATUS", "BUSY", value)),
                            bool(self.field("STATUS", "READY", value)),
                            bool(self.field("STATUS", "IGNORED", value)))

    async def status(self) -> StatusReport:
        """Read STATUS: ``(code, busy, ready, ignored)`` as a :class:`StatusReport`."""
        await self._ensure_identified()
        return self._decode_status(await self.read("STATUS"))

    async def wait_ready(self, timeout_polls: int = 10_000) -> StatusReport:
        """Poll STATUS until READY = 1 and BUSY = 0 (the state after the reset-time platform
        key draw and after every command); return that STATUS. Raises ``TimeoutError``
        after ``timeout_polls`` reads that did not show it."""
        _check_polls(timeout_polls)
        await self._ensure_identified()
        report = None
        for _ in range(timeout_polls):
            report = self._decode_status(await self.read("STATUS"))
            if report.ready and not report.busy:
                return report
        raise TimeoutError(f"memcrypt not ready after {timeout_polls} STATUS reads "
                           f"(last: {report})")

    # -- key programming ----------------------------------------------------------------------

    async def program(self, keyid: int, command: int, algorithm: int, field1: bytes = b"",
                      field2: bytes = b"", poll_limit: int = 10_000) -> Status:
        """Run one key-programming command (``MKTME_KEY_PROGRAM``) and return its status.

        Writes KEYID, KEYID_CTRL (``command | algorithm << 8``), the eight words of
        KEY_FIELD_1 from ``field1`` and of KEY_FIELD_2 from ``field2`` (each zero-padded to
        32 bytes; byte k in bits 8k+7:8k, so word j is
        ``int.from_bytes(field[4j:4j+4], "little")``), then 1 to DOORBELL, then reads STATUS
        until BUSY = 0. Returns ``Status(STATUS.CODE)``, or ``Status.DEVICE_BUSY`` when
        STATUS.IGNORED shows that the device dropped part of the sequence because it was
        busy. A failing status is returned, not raised.

        ``command`` and ``algorithm`` may be any values that fit their fields (8 and 16
        bits), so that invalid ones can be tried; ``keyid`` must fit KEYID (0 to 0xFFFF).
        Raises ``ValueError`` for values that do not fit, ``TimeoutError`` if BUSY is still
        1 after ``poll_limit`` STATUS reads.
        """
        _check_polls(poll_limit)
        keyid_word = self.encode("KEYID", KEYID=_int("keyid", keyid))
        ctrl_word = self.encode("KEYID_CTRL", COMMAND=_int("command", command),
                                ENC_ALG=_int("algorithm", algorithm))
        words1 = _key_field_words(field1, "field1")
        words2 = _key_field_words(field2, "field2")
        await self._ensure_identified()
        await self.write("KEYID", keyid_word)
        await self.write("KEYID_CTRL", ctrl_word)
        for which, words in ((1, words1), (2, words2)):
            for j, word in enumerate(words):
                await self.write(f"KEY_FIELD_{which}_{j}", word)
        await self.write("DOORBELL", self.encode("DOORBELL", GO=1))
        try:
            report = await self.wait_idle(poll_limit)
        except TimeoutError:
            raise TimeoutError(f"command {int(command):#04x} for KeyID {keyid}: STATUS.BUSY "
                               f"still 1 after {poll_limit} reads") from None
        return Status.DEVICE_BUSY if report.ignored else report.code

    async def wait_idle(self, poll_limit: int = 10_000) -> StatusReport:
        """Poll STATUS until BUSY = 0 (the running command, if any, has finished); return
        that STATUS. Raises ``TimeoutError`` after ``poll_limit`` reads showing BUSY = 1."""
        _check_polls(poll_limit)
        await self._ensure_identified()
        for _ in range(poll_limit):
            report = self._decode_status(await self.read("STATUS"))
            if not report.busy:
                return report
        raise TimeoutError(f"STATUS.BUSY still 1 after {poll_limit} reads")

    async def set_key_direct(self, keyid: int, data_key: bytes, tweak_key: bytes) -> Status:
        """``SET_KEY_DIRECT``: give ``keyid`` the AES-XTS data key and tweak key. Both 16
        bytes (AES-XTS-128) or both 32 bytes (AES-XTS-256), else ``ValueError``. Returns the
        status (``PROG_SUCCESS`` on success; not raised otherwise)."""
        algorithm = _algorithm_for_length(_length(data_key, "data_key"), "data_key")
        if _length(tweak_key, "tweak_key") != len(data_key):
            raise ValueError(f"tweak_key is {len(tweak_key)} bytes but data_key is "
                             f"{len(data_key)}: both keys have the same size")
        return await self.program(keyid, Command.SET_KEY_DIRECT, algorithm, data_key,
                                  tweak_key)

    async def set_key_random(self, keyid: int, key_bits: int, data_entropy: bytes,
                             tweak_entropy: bytes) -> Status:
        """``SET_KEY_RANDOM``: give ``keyid`` random ``key_bits``-bit (128 or 256) keys, each
        the software entropy given here (``key_bits / 8`` bytes each) XOR hardware entropy.
        Returns the status (``ENTROPY_ERROR`` if the entropy source stalls)."""
        if key_bits not in (128, 256):
            raise ValueError(f"key_bits must be 128 or 256, not {key_bits!r}")
        for what, data in (("data_entropy", data_entropy), ("tweak_entropy", tweak_entropy)):
            if _length(data, what) != key_bits // 8:
                raise ValueError(f"{what} is {len(data)} bytes; {key_bits}-bit keys take "
                                 f"{key_bits // 8}")
        return await self.program(keyid, Command.SET_KEY_RANDOM,
                                  Algorithm.for_key_bits(key_bits), data_entropy,
                                  tweak_entropy)

    async def clear_key(self, keyid: int) -> Status:
        """``CLEAR_KEY``: return ``keyid`` to the platform key. Returns the status."""
        return await self.program(keyid, Command.CLEAR_KEY, 0)

    async def no_encrypt(self, keyid: int) -> Status:
        """``NO_ENCRYPT``: make ``keyid``'s memory plaintext. Returns the status."""
        return await self.program(keyid, Command.NO_ENCRYPT, 0)

    async def load_platform_key(self, data_key: bytes, tweak_key: bytes) -> Status:
        """``LOAD_PLATFORM_KEY`` (bring-up builds, once per reset): load the platform key
        pair, both 16 or both 32 bytes, for the platform KeyID. Returns the status."""
        algorithm = _algorithm_for_length(_length(data_key, "data_key"), "data_key")
        if _length(tweak_key, "tweak_key") != len(data_key):
            raise ValueError(f"tweak_key is {len(tweak_key)} bytes but data_key is "
                             f"{len(data_key)}: both keys have the same size")
        await self._ensure_identified()
        return await self.program(self.config.platform_keyid, Command.LOAD_PLATFORM_KEY,
                                  algorithm, data_key, tweak_key)

    # -- faults -------------------------------------------------------------------------------

    async def faults(self, max_records: int = 1024) -> list:
        """Pop the fault log: while FAULT_INFO.VALID, read FAULT_ADDR_LO and FAULT_ADDR_HI,
        write 1 to FAULT_POP and read FAULT_INFO again. Returns the
        :class:`FaultRecord` s, oldest first (at most ``max_records``; call again for
        more)."""
        await self._ensure_identified()
        records = []
        info = await self.read("FAULT_INFO")
        while self.field("FAULT_INFO", "VALID", info) and len(records) < max_records:
            address = await self.read("FAULT_ADDR_LO")
            address |= await self.read("FAULT_ADDR_HI") << 32
            records.append(self._fault_record(address, info))
            await self.write("FAULT_POP", self.encode("FAULT_POP", POP=1))
            if len(records) < max_records:
                info = await self.read("FAULT_INFO")
        return records

    def _fault_record(self, address: int, info: int) -> FaultRecord:
        source = self.field("FAULT_INFO", "SOURCE", info)
        kind = self.field("FAULT_INFO", "KIND", info)
        try:
            source, kind = FaultSource(source), FaultKind(kind)
        except ValueError:
            raise DeviceError(f"FAULT_INFO {info:#010x}: source {source} or kind {kind} is "
                              f"not defined") from None
        return FaultRecord(address, self.field("FAULT_INFO", "KEYID", info), source, kind,
                           bool(self.field("FAULT_INFO", "WRITE", info)))

    async def fault_overflow(self) -> int:
        """FAULT_OVERFLOW.COUNT: faults lost because the log was full."""
        await self._ensure_identified()
        return self.field("FAULT_OVERFLOW", "COUNT", await self.read("FAULT_OVERFLOW"))

    async def clear_fault_overflow(self) -> None:
        """Clear FAULT_OVERFLOW (write 1)."""
        await self._ensure_identified()
        await self.write("FAULT_OVERFLOW", 1)

    # -- interrupts ---------------------------------------------------------------------------

    async def irq_status(self) -> Irq:
        """IRQ_STATUS as :class:`Irq` bits."""
        await self._ensure_identified()
        return Irq(await self.read("IRQ_STATUS") & _mask(self.regmap["IRQ_STATUS"]))

    async def irq_clear(self, bits: int) -> None:
        """Clear the IRQ_STATUS ``bits`` (:class:`Irq`; write 1 to clear)."""
        await self._ensure_identified()
        await self.write("IRQ_STATUS", _irq_bits(bits))

    async def irq_enable(self, bits: int) -> None:
        """Set IRQ_ENABLE to ``bits`` (:class:`Irq`): those causes raise the interrupt, the
        others no longer do."""
        await self._ensure_identified()
        await self.write("IRQ_ENABLE", _irq_bits(bits))

    # -- flushes ------------------------------------------------------------------------------

    async def flush_range(self, address: int, length: int,
                          poll_limit: int = 1_000_000) -> int:
        """Write back (encrypted under each line's KeyID) and invalidate every cached line
        that holds a byte of ``[address, address + length)`` under any KeyID, e.g. a 4 KiB
        page before it is reused; ``address`` is a stripped physical address (without
        KeyID bits). Waits until the flush is complete (memory has answered every
        write-back) and returns the number of lines invalidated.

        Raises ``ValueError`` for a range outside the stripped address space and
        :class:`DeviceError` if the build has no cache, a flush was already running, or
        the flush does not finish within ``poll_limit`` polls."""
        await self._ensure_identified()
        top = 1 << self.config.stripped_bits
        _int("address", address)
        _int("length", length)
        if not 0 <= address < top or length < 1 or address + length > top:
            raise ValueError(f"flush range [{address:#x}, {address + length:#x}) is not a "
                             f"non-empty range of the {self.config.stripped_bits}-bit "
                             f"stripped address space")
        start = address & ~(LINE_BYTES - 1)
        end = (address + length + LINE_BYTES - 1) & ~(LINE_BYTES - 1)
        await self.write("FLUSH_START_LO", start & _WORD)
        await self.write("FLUSH_START_HI", start >> 32)
        await self.write("FLUSH_END_LO", end & _WORD)
        await self.write("FLUSH_END_HI", end >> 32)
        return await self._flush(self.encode("FLUSH_CTRL", RANGE=1), poll_limit)

    async def flush_all(self, poll_limit: int = 1_000_000) -> int:
        """Write back and invalidate every cached line; as :meth:`flush_range`. After it
        returns, memory holds every line's latest value, encrypted."""
        await self._ensure_identified()
        return await self._flush(self.encode("FLUSH_CTRL", ALL=1), poll_limit)

    async def _flush(self, control: int, poll_limit: int) -> int:
        if self._blocks is None:
            self._blocks = _blocks(self.field("CAP_BLOCKS", "BLOCKS",
                                              await self.read("CAP_BLOCKS")))
        if Block.CACHE not in self._blocks:
            raise DeviceError("this build has no cache to flush (CAP_BLOCKS)")
        await self.write("FLUSH_CTRL", control)
        _check_polls(poll_limit)
        for _ in range(poll_limit):
            status = await self.read("FLUSH_STATUS")
            if not self.field("FLUSH_STATUS", "BUSY", status):
                if self.field("FLUSH_STATUS", "IGNORED", status):
                    raise DeviceError("the flush was ignored: another was running")
                return self.field("FLUSH_STATUS", "LINES", status)
        raise DeviceError(f"the flush did not finish within {poll_limit} polls")

    # -- performance counters -----------------------------------------------------------------

    async def perf_counters(self) -> dict:
        """Every counter of ``PERF_EVENTS`` as ``{name: 64-bit count}``; each is read LO
        first (which latches the upper half) and then HI."""
        await self._ensure_identified()
        counts = {}
        for event, _doc in PERF_EVENTS:
            low = await self.read(f"PERF_{event.upper()}_LO")
            high = await self.read(f"PERF_{event.upper()}_HI")
            counts[event] = high << 32 | low
        return counts

    async def clear_perf_counters(self) -> None:
        """Clear every performance counter (PERF_CTRL.CLEAR)."""
        await self._ensure_identified()
        await self.write("PERF_CTRL", self.encode("PERF_CTRL", CLEAR=1))


def _int(what, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer, not {value!r}")
    return int(value)


def _length(data, what):
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{what} must be bytes, not {type(data).__name__}")
    return len(data)


def _check_polls(polls):
    if isinstance(polls, bool) or not isinstance(polls, int) or polls < 1:
        raise ValueError(f"the poll limit must be a positive integer, not {polls!r}")


def _mask(register):
    mask = 0
    for f in register.fields:
        mask |= f.mask
    return mask


def _blocks(bits):
    defined = 0
    for member in Block:
        defined |= int(member)
    if bits & ~defined:
        raise DeviceError(f"CAP_BLOCKS.BLOCKS reads {bits:#x}, which names blocks this "
                          f"driver does not know (defined: {defined:#x})")
    return Block(bits)


def _irq_bits(bits):
    bits = _int("bits", bits)
    defined = 0
    for member in Irq:
        defined |= int(member)
    if bits & ~defined:
        raise ValueError(f"{bits:#x} has bits that are not interrupts (defined: {defined:#x})")
    return bits


# -- the synchronous flavour ------------------------------------------------------------------

def _never_suspends(function):
    """A coroutine function around the plain ``function``."""
    async def call(*args):
        result = function(*args)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError(f"{getattr(function, '__name__', function)!s} returned an "
                            f"awaitable: use AsyncDriver for asynchronous accesses")
        return result
    return call


def run_to_completion(coroutine):
    """Run a coroutine that never suspends and return its result, without an event loop.

    ``send(None)`` starts it; a coroutine that awaits only non-suspending coroutines ends
    at once with ``StopIteration`` carrying its result. Should it suspend (it awaited
    something that needs an event loop), it is closed and ``RuntimeError`` raised.
    """
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise RuntimeError("a synchronous driver call suspended: its read or write waited for "
                       "an event loop; use AsyncDriver")


def _synchronous(name):
    method = getattr(AsyncDriver, name)

    def call(self, *args, **kwargs):
        return run_to_completion(method(self._driver, *args, **kwargs))

    call.__name__ = call.__qualname__ = name
    call.__doc__ = method.__doc__
    call.__signature__ = inspect.signature(method)
    return call


_ASYNC_METHODS = (
    "read", "write", "identify", "status", "wait_ready", "wait_idle", "program",
    "set_key_direct",
    "set_key_random", "clear_key", "no_encrypt", "load_platform_key", "faults",
    "fault_overflow", "clear_fault_overflow", "irq_status", "irq_clear", "irq_enable",
    "perf_counters", "clear_perf_counters", "flush_range", "flush_all",
)


class Driver:
    """:class:`AsyncDriver` for plain ``read(offset) -> int`` and ``write(offset, value)``.

    Same parameters and methods as :class:`AsyncDriver`, called without ``await``; each
    call runs the asynchronous driver's coroutine to completion (see
    :func:`run_to_completion`), so both flavours make identical accesses.
    """

    def __init__(self, read, write, config: MemcryptConfig | None = None,
                 regmap: RegisterMap | None = None):
        self._driver = AsyncDriver(_never_suspends(read), _never_suspends(write),
                                   config=config, regmap=regmap)

    @property
    def config(self) -> MemcryptConfig | None:
        """The configuration (``None`` until identified when none was given)."""
        return self._driver.config

    @property
    def regmap(self) -> RegisterMap:
        """The register map in use."""
        return self._driver.regmap

    def field(self, register: str, field: str, value: int) -> int:
        """The value of ``field`` in ``value``, a word read from ``register``."""
        return self._driver.field(register, field, value)

    def encode(self, register: str, **fields: int) -> int:
        """A word for ``register`` with the given fields (others zero)."""
        return self._driver.encode(register, **fields)


for _name in _ASYNC_METHODS:
    setattr(Driver, _name, _synchronous(_name))
del _name
