"""The control interface's register map: the one source of truth.

The gateware (:mod:`memcrypt.gateware.control`) decodes these offsets and fields (each
register word a layout of its fields, :func:`memcrypt.gateware.control.register_layout`);
``memcrypt regmap`` writes from them the Markdown page ``docs/registers.md``, a C header and
a JSON description; :mod:`memcrypt.host.driver` programs keys with them. Change a register
here and all of them follow.

The enumerations the hardware stores (:class:`Command`, :class:`Status`, :class:`KeyMode`,
:class:`FaultKind`, :class:`FaultSource`) are ``amaranth.lib.enum.IntEnum`` with the width
of their field as shape: the gateware uses them as the shapes of its signals, software as
Python integers. Key-field and counter registers say where they sit (``Register.key_word``,
``Register.counter``); registers and fault kinds that no block of this release produces
are reserved for the block that will (``Register.reserved_for``,
:data:`RESERVED_FAULT_KINDS`), and CAP_BLOCKS says which blocks a build contains.

The key-programming registers are modelled on Intel's PCONFIG leaf ``MKTME_KEY_PROGRAM``
(Intel 64 and IA-32 Architectures Software Developer's Manual, Vol. 2B, PCONFIG; Intel
Multi-Key Total Memory Encryption Specification): KEYID, KEYID_CTRL (command in bits 7:0,
encryption algorithm in bits 23:8), KEY_FIELD_1, KEY_FIELD_2, and Intel's status codes. The
algorithm bits follow ``IA32_TME_CAPABILITY``: bit 0 of the field AES-XTS-128, bit 2
AES-XTS-256 (bit 1, AES-XTS-128 with integrity, is not supported).

The bus is AXI4-Lite with 32-bit data (AMBA AXI and ACE Protocol Specification, ARM IHI
0022, Part B). Registers are 32 bits at word-aligned byte offsets; byte lanes of a write
follow WSTRB. An offset not in the map answers SLVERR (read data zero) and is logged as a
``BAD_CONTROL_ACCESS`` fault; a write to a read-only register is ignored with OKAY.
"""

import enum
from dataclasses import dataclass

from amaranth.lib import enum as hdl_enum

from .config import MemcryptConfig

__all__ = [
    "ID_VALUE", "VERSION_MAJOR", "VERSION_MINOR", "ADDR_WIDTH", "KEY_FIELD_WORDS",
    "Command", "Status", "Algorithm", "KeyMode", "FaultKind", "FaultSource", "Irq",
    "Block", "NO_BLOCKS",
    "PERF_EVENTS", "RESERVED_EVENTS", "RESERVED_FAULT_KINDS", "FIELD_ENUMS",
    "Access", "Field", "KeyWord", "CounterWord", "Register", "RegisterMap", "register_map",
]

ID_VALUE = 0x4D435259        # "MCRY"
VERSION_MAJOR = 0
VERSION_MINOR = 4
ADDR_WIDTH = 12              # a 4 KiB window
KEY_FIELD_WORDS = 8          # 256 bits per key field (a 128-bit key uses words 0 to 3)


class Command(hdl_enum.IntEnum, shape=8):
    """KEYID_CTRL.COMMAND (as ``MKTME_KEY_PROGRAM``), plus a bring-up command."""
    SET_KEY_DIRECT = 0       # data key from KEY_FIELD_1, tweak key from KEY_FIELD_2
    SET_KEY_RANDOM = 1       # each key = software entropy XOR hardware entropy
    CLEAR_KEY = 2            # back to the platform key
    NO_ENCRYPT = 3           # plaintext in memory
    LOAD_PLATFORM_KEY = 0x80  # only with platform_key_loadable; once per reset


class Status(hdl_enum.IntEnum, shape=8):
    """STATUS.CODE: Intel's PCONFIG status codes."""
    PROG_SUCCESS = 0
    INVALID_PROG_CMD = 1
    ENTROPY_ERROR = 2
    INVALID_KEYID = 3
    INVALID_ENC_ALG = 4
    DEVICE_BUSY = 5


class Algorithm(enum.IntFlag):
    """KEYID_CTRL.ENC_ALG bits (``IA32_TME_CAPABILITY`` encoding); exactly one is set."""
    AES_XTS_128 = 1 << 0
    AES_XTS_256 = 1 << 2

    @classmethod
    def for_key_bits(cls, key_bits: int) -> "Algorithm":
        return {128: cls.AES_XTS_128, 256: cls.AES_XTS_256}[key_bits]


class KeyMode(hdl_enum.IntEnum, shape=2):
    """What a KeyID does, as the key table stores it."""
    PLATFORM = 0             # the platform key (never programmed, or cleared)
    KEYED = 1                # its own key (direct or random)
    NO_ENCRYPT = 2           # plaintext


class FaultKind(hdl_enum.IntEnum, shape=4):
    """FAULT_INFO.KIND: what went wrong."""
    INVALID_KEYID = 1        # KeyID at or above num_keys
    OUT_OF_RANGE = 2         # stripped address at or above mem_bytes
    DMA_MASK = 3             # DMA request above the device's DMA mask
    MEMORY_ERROR = 4         # the memory answered with an error
    BAD_CONTROL_ACCESS = 5   # control register offset not in the map
    PROTOCOL_ERROR = 6       # a bus request AMBA forbids (a bad burst)


class FaultSource(hdl_enum.IntEnum, shape=4):
    """FAULT_INFO.SOURCE: the port whose access faulted."""
    HOST = 0
    DMA = 1
    CONTROL = 2


class Irq(enum.IntFlag):
    """IRQ_STATUS / IRQ_ENABLE bits."""
    COMMAND_DONE = 1 << 0    # a command finished (whatever its status)
    FAULT = 1 << 1           # a fault was logged
    FAULT_OVERFLOW = 1 << 2  # a fault was lost: the log was full
    FLUSH_DONE = 1 << 3      # a flush (FLUSH_CTRL) finished


class Block(enum.IntFlag):
    """CAP_BLOCKS.BLOCKS bits: the blocks a build contains beside the control block."""
    CACHE = 1 << 0           # the key-tagged cache
    ENGINE = 1 << 1          # the AES-XTS engine
    HOST_PORT = 1 << 2       # the host AXI4 port with its KeyID split
    DMA_PORT = 1 << 3        # the DMA AXI4 port with its mask check
    MEMORY_PORT = 1 << 4     # the memory side: encryption to and decryption from memory


#: A build of the control block alone.
NO_BLOCKS = Block(0)


# Performance counters: event inputs of the control block.
PERF_EVENTS = (
    ("host_reads", "read requests accepted on the host port"),
    ("host_writes", "write requests accepted on the host port"),
    ("dma_reads", "read requests accepted on the DMA port"),
    ("dma_writes", "write requests accepted on the DMA port"),
    ("cache_hits", "cache lookups that hit"),
    ("cache_misses", "cache lookups that missed"),
    ("write_backs", "lines written back to memory"),
    ("alias_evictions", "lines evicted because the same line was used under another KeyID"),
    ("lines_flushed", "lines written back or invalidated by maintenance operations"),
    ("lines_encrypted", "lines encrypted on the way to memory"),
    ("lines_decrypted", "lines decrypted on the way from memory"),
    ("keys_programmed", "key-programming commands that succeeded"),
)

#: Performance counters no block of this release feeds, and the block that will: they
#: read zero until a build contains it.
RESERVED_EVENTS = {
    "dma_reads": Block.DMA_PORT,
    "dma_writes": Block.DMA_PORT,
}

#: Fault kinds no block of this release reports, and the blocks that will.
RESERVED_FAULT_KINDS = {
    FaultKind.DMA_MASK: Block.DMA_PORT,
}

#: The enumeration each enumerated field holds, by (register, field): the gateware gives
#: the field that shape, the documents list its values.
FIELD_ENUMS = {
    ("KEYID_CTRL", "COMMAND"): Command,
    ("STATUS", "CODE"): Status,
    ("FAULT_INFO", "SOURCE"): FaultSource,
    ("FAULT_INFO", "KIND"): FaultKind,
}


class Access(enum.StrEnum):
    RO = "ro"                # read-only; writes ignored
    RW = "rw"                # read-write
    WO = "wo"                # write-only; reads return zero (key material)
    W1C = "w1c"              # read; writing 1 to a bit clears it
    WT = "wt"                # write triggers an action; reads return zero


@dataclass(frozen=True)
class Field:
    name: str
    lsb: int
    width: int
    doc: str
    reset: int = 0

    @property
    def msb(self) -> int:
        return self.lsb + self.width - 1

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb


@dataclass(frozen=True)
class KeyWord:
    """Where a key-field register sits: word ``word`` (bits 32*word+31:32*word) of key field
    ``field`` (1: KEY_FIELD_1, the data key; 2: KEY_FIELD_2, the tweak key)."""
    field: int
    word: int


@dataclass(frozen=True)
class CounterWord:
    """Where a performance-counter register sits: the low (``high`` false) or high half of
    the counter of ``event`` (a name of :data:`PERF_EVENTS`)."""
    event: str
    high: bool


@dataclass(frozen=True)
class Register:
    """One 32-bit register.

    ``key_word`` is set on the key-field registers, ``counter`` on the performance-counter
    registers; ``reserved_for`` names the blocks (:class:`Block`) that will produce the
    register's value when no block of this release does (it then reads zero)."""
    name: str
    offset: int
    access: Access
    doc: str
    fields: tuple
    key_word: KeyWord | None = None
    counter: CounterWord | None = None
    reserved_for: Block = NO_BLOCKS

    def field(self, name: str) -> Field:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"Register {self.name} has no field {name!r}")

    @property
    def reset(self) -> int:
        return sum(field.reset << field.lsb for field in self.fields)


def _reg(name, offset, access, doc, *fields, **attributes):
    return Register(name, offset, Access(access), doc, tuple(fields), **attributes)


class RegisterMap:
    """The registers of one configuration, by name and by offset."""

    def __init__(self, config: MemcryptConfig, registers):
        self.config = config
        self.registers = tuple(sorted(registers, key=lambda r: r.offset))
        self._by_name = {r.name: r for r in self.registers}
        self._by_offset = {r.offset: r for r in self.registers}
        if len(self._by_name) != len(self.registers):
            raise ValueError("Duplicate register name")
        if len(self._by_offset) != len(self.registers):
            raise ValueError("Duplicate register offset")
        for register in self.registers:
            if register.offset % 4 or not 0 <= register.offset < 1 << ADDR_WIDTH:
                raise ValueError(f"{register.name}: bad offset {register.offset:#x}")
            used = 0
            for field in register.fields:
                if field.lsb < 0 or field.msb > 31 or used & field.mask:
                    raise ValueError(f"{register.name}.{field.name} overlaps or overflows")
                used |= field.mask

    def __getitem__(self, name: str) -> Register:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"No register {name!r}") from None

    def __iter__(self):
        return iter(self.registers)

    def __len__(self):
        return len(self.registers)

    def at(self, offset: int):
        """The register at ``offset``, or ``None``."""
        return self._by_offset.get(offset)

    def offset(self, name: str) -> int:
        return self[name].offset


KEY_FIELD_1_BASE = 0x040
KEY_FIELD_2_BASE = 0x060
PERF_BASE = 0x200


def register_map(config: MemcryptConfig, blocks: Block = NO_BLOCKS) -> RegisterMap:
    """The register map of a build: capability values come from ``config``, and
    CAP_BLOCKS.BLOCKS from ``blocks`` (the blocks the build contains beside the control
    block)."""
    if not isinstance(blocks, Block):
        raise TypeError(f"blocks must be a Block flag, not {blocks!r}")
    algorithms = 0
    for bits in config.key_sizes:
        algorithms |= Algorithm.for_key_bits(bits)
    regs = [
        _reg("ID", 0x000, "ro", "Identifies memcrypt: reads 0x4D435259 (\"MCRY\").",
             Field("VALUE", 0, 32, "0x4D435259", ID_VALUE)),
        _reg("VERSION", 0x004, "ro", "Register map version.",
             Field("MINOR", 0, 16, "minor version", VERSION_MINOR),
             Field("MAJOR", 16, 16, "major version", VERSION_MAJOR)),
        _reg("CAP_KEYS", 0x008, "ro", "Key capabilities of this build.",
             Field("KEYID_BITS", 0, 4, "KeyID bits at the top of the physical address",
                   config.keyid_bits),
             Field("KEYID0_PLAINTEXT", 4, 1,
                   "1: KeyID 0 is plaintext and KeyID 1 the platform key (AMD SME); "
                   "0: KeyID 0 is the platform key (Intel)",
                   int(config.keyid0 == "plaintext")),
             Field("PLATFORM_KEY_LOADABLE", 5, 1,
                   "1: LOAD_PLATFORM_KEY is available (bring-up build)",
                   int(config.platform_key_loadable)),
             Field("ENC_ALGS", 8, 8,
                   "supported algorithms, as KEYID_CTRL.ENC_ALG: bit 0 AES-XTS-128, "
                   "bit 2 AES-XTS-256", algorithms),
             Field("NUM_KEYS", 16, 16, "KeyIDs with key storage (MK_TME_MAX_KEYS)",
                   config.num_keys)),
        _reg("CAP_ADDR", 0x00C, "ro", "Address split of this build.",
             Field("PHYS_ADDR_BITS", 0, 8, "physical address width, KeyID included",
                   config.phys_addr_bits),
             Field("KEYID_SHIFT", 8, 8, "position of the KeyID's lowest bit",
                   config.stripped_bits),
             Field("FAULT_LOG_DEPTH", 16, 9, "fault records kept",
                   config.fault_log_depth)),
        _reg("CAP_MEM_LO", 0x010, "ro", "Bytes of memory behind the controller, bits 31:0.",
             Field("VALUE", 0, 32, "mem_bytes[31:0]", config.mem_bytes & 0xFFFF_FFFF)),
        _reg("CAP_MEM_HI", 0x014, "ro", "Bytes of memory behind the controller, bits 63:32.",
             Field("VALUE", 0, 32, "mem_bytes[63:32]", config.mem_bytes >> 32)),
        _reg("CAP_ENTROPY", 0x018, "ro", "Entropy input.",
             Field("TIMEOUT", 0, 21, "clock cycles a command waits for each 32-bit entropy "
                   "word before ENTROPY_ERROR", config.entropy_timeout)),
        _reg("CAP_BLOCKS", 0x01C, "ro", "Blocks this build contains beside the control "
             "block. A register or fault kind reserved for a block reads zero, or is never "
             "logged, in a build without it.",
             Field("BLOCKS", 0, 8, "bit 0 key-tagged cache, bit 1 AES-XTS engine, bit 2 host "
                   "port, bit 3 DMA port, bit 4 memory port", int(blocks))),
        _reg("KEYID", 0x020, "rw", "The KeyID the next command programs.",
             Field("KEYID", 0, 16, "KeyID")),
        _reg("KEYID_CTRL", 0x024, "rw", "The next command and its algorithm "
             "(MKTME_KEY_PROGRAM's KEYID_CTRL).",
             Field("COMMAND", 0, 8, "0 SET_KEY_DIRECT, 1 SET_KEY_RANDOM, 2 CLEAR_KEY, "
                   "3 NO_ENCRYPT, 0x80 LOAD_PLATFORM_KEY (bring-up builds)"),
             Field("ENC_ALG", 8, 16, "exactly one bit: bit 0 AES-XTS-128, bit 2 AES-XTS-256 "
                   "(ignored by CLEAR_KEY and NO_ENCRYPT)")),
        _reg("DOORBELL", 0x028, "wt", "Writing 1 to GO starts the command in KEYID and "
             "KEYID_CTRL. Ignored while STATUS.BUSY (STATUS.IGNORED is then set).",
             Field("GO", 0, 1, "start")),
        _reg("STATUS", 0x02C, "ro", "Result of the last command; DEVICE_BUSY while one runs "
             "(including while the KeyID's cache lines are retired).",
             Field("CODE", 0, 8, "0 PROG_SUCCESS, 1 INVALID_PROG_CMD, 2 ENTROPY_ERROR, "
                   "3 INVALID_KEYID, 4 INVALID_ENC_ALG, 5 DEVICE_BUSY", Status.DEVICE_BUSY),
             Field("BUSY", 8, 1, "a command (or the reset-time platform key draw) is running",
                   1),
             Field("READY", 9, 1, "the key table is initialised and the platform key drawn"),
             Field("IGNORED", 10, 1, "a doorbell or a command register write came while "
                   "busy and was ignored; cleared by the next accepted doorbell")),
    ]
    for which, base, what in ((1, KEY_FIELD_1_BASE, "data key (or software entropy for "
                               "SET_KEY_RANDOM)"),
                              (2, KEY_FIELD_2_BASE, "tweak key (or software entropy for "
                               "SET_KEY_RANDOM)")):
        for word in range(KEY_FIELD_WORDS):
            regs.append(_reg(
                f"KEY_FIELD_{which}_{word}", base + 4 * word, "wo",
                f"KEY_FIELD_{which}, bytes {4 * word} to {4 * word + 3}: {what}. Byte k of "
                f"the key is bits 8k+7:8k of the field (byte 4*{word} in bits 7:0). Write-"
                f"only: reads return zero; cleared when a command completes or fails.",
                Field("VALUE", 0, 32, f"key bytes {4 * word + 3}..{4 * word}"),
                key_word=KeyWord(which, word)))
    regs += [
        _reg("FAULT_STATUS", 0x100, "ro", "Fault log occupancy.",
             Field("COUNT", 0, 16, "records held (oldest first in FAULT_ADDR/INFO)")),
        _reg("FAULT_OVERFLOW", 0x104, "w1c", "Faults lost because the log was full "
             "(saturating). Writing any value with bit 0 set clears it.",
             Field("COUNT", 0, 32, "lost records")),
        _reg("FAULT_ADDR_LO", 0x108, "ro", "Oldest record: physical address bits 31:0 (the "
             "full address, KeyID included; the register offset for control faults).",
             Field("VALUE", 0, 32, "address[31:0]")),
        _reg("FAULT_ADDR_HI", 0x10C, "ro", "Oldest record: physical address bits 63:32.",
             Field("VALUE", 0, 32, "address[63:32]")),
        _reg("FAULT_INFO", 0x110, "ro", "Oldest record: what happened.",
             Field("KEYID", 0, 16, "KeyID of the access"),
             Field("SOURCE", 16, 4, "0 host, 1 DMA, 2 control"),
             Field("KIND", 24, 4, "1 INVALID_KEYID, 2 OUT_OF_RANGE, 3 DMA_MASK, "
                   "4 MEMORY_ERROR, 5 BAD_CONTROL_ACCESS, 6 PROTOCOL_ERROR"),
             Field("WRITE", 28, 1, "the access was a write"),
             Field("VALID", 31, 1, "a record is present")),
        _reg("FAULT_POP", 0x114, "wt", "Writing 1 to POP removes the oldest record.",
             Field("POP", 0, 1, "remove the oldest record")),
        _reg("IRQ_STATUS", 0x120, "w1c", "Interrupt causes (set by hardware, cleared by "
             "writing 1). irq is high while (IRQ_STATUS & IRQ_ENABLE) != 0.",
             Field("COMMAND_DONE", 0, 1, "a command finished"),
             Field("FAULT", 1, 1, "a fault was logged"),
             Field("FAULT_OVERFLOW", 2, 1, "a fault was lost"),
             Field("FLUSH_DONE", 3, 1, "a flush finished")),
        _reg("IRQ_ENABLE", 0x124, "rw", "Interrupt enables, bits as IRQ_STATUS.",
             Field("COMMAND_DONE", 0, 1, "enable"),
             Field("FAULT", 1, 1, "enable"),
             Field("FAULT_OVERFLOW", 2, 1, "enable"),
             Field("FLUSH_DONE", 3, 1, "enable")),
        _reg("FLUSH_START_LO", 0x140, "rw", "First line of a FLUSH_CTRL.RANGE flush: stripped "
             "byte address (KeyID bits excluded) bits 31:0; bits 5:0 are ignored.",
             Field("VALUE", 0, 32, "address[31:0]"), reserved_for=Block.CACHE),
        _reg("FLUSH_START_HI", 0x144, "rw", "First line of a range flush: address bits 63:32.",
             Field("VALUE", 0, 32, "address[63:32]"), reserved_for=Block.CACHE),
        _reg("FLUSH_END_LO", 0x148, "rw", "End of a range flush (exclusive): stripped byte "
             "address bits 31:0; bits 5:0 are ignored. A 4 KiB page at P: START = P, "
             "END = P + 0x1000.",
             Field("VALUE", 0, 32, "address[31:0]"), reserved_for=Block.CACHE),
        _reg("FLUSH_END_HI", 0x14C, "rw", "End of a range flush: address bits 63:32.",
             Field("VALUE", 0, 32, "address[63:32]"), reserved_for=Block.CACHE),
        _reg("FLUSH_CTRL", 0x150, "wt", "Writing starts a flush: every cached line in "
             "[FLUSH_START, FLUSH_END) under any KeyID (RANGE), or every cached line (ALL), "
             "is written back if dirty (encrypted under its KeyID) and invalidated. Ignored "
             "while FLUSH_STATUS.BUSY (FLUSH_STATUS.IGNORED is then set); ALL wins over "
             "RANGE.",
             Field("RANGE", 0, 1, "flush the range"),
             Field("ALL", 1, 1, "flush every line"), reserved_for=Block.CACHE),
        _reg("FLUSH_STATUS", 0x154, "ro", "The last flush. It is complete (BUSY low) only "
             "when memory has answered every write-back it caused.",
             Field("BUSY", 0, 1, "a flush is running"),
             Field("DONE", 1, 1, "the last flush finished (cleared by the next start)"),
             Field("IGNORED", 2, 1, "a FLUSH_CTRL write came while busy and was ignored"),
             Field("LINES", 16, 16, "lines the last flush invalidated"),
             reserved_for=Block.CACHE),
        _reg("PERF_CTRL", 0x1F0, "wt", "Performance counter control.",
             Field("CLEAR", 0, 1, "writing 1 clears every counter")),
    ]
    for index, (event, doc) in enumerate(PERF_EVENTS):
        name = f"PERF_{event.upper()}"
        reserved_for = RESERVED_EVENTS.get(event, NO_BLOCKS)
        regs.append(_reg(f"{name}_LO", PERF_BASE + 8 * index, "ro",
                         f"Counter, bits 31:0: {doc}. Reading it latches bits 63:32 into "
                         f"{name}_HI.", Field("VALUE", 0, 32, "count[31:0]"),
                         counter=CounterWord(event, False), reserved_for=reserved_for))
        regs.append(_reg(f"{name}_HI", PERF_BASE + 8 * index + 4, "ro",
                         f"Counter, bits 63:32, as latched by the last read of {name}_LO.",
                         Field("VALUE", 0, 32, "count[63:32]"),
                         counter=CounterWord(event, True), reserved_for=reserved_for))
    return RegisterMap(config, regs)
