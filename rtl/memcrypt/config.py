"""One validated description of a memcrypt build.

Every block takes what it needs from a :class:`MemcryptConfig`; ``memcrypt generate`` prints
it, and the capability registers (:mod:`memcrypt.regmap`) expose it to software.

The KeyID is the top ``keyid_bits`` of the ``phys_addr_bits``-wide physical address, as on
Intel TME-MK (``IA32_TME_ACTIVATE[35:32]`` sets the number of KeyID bits, and software treats
them as removed from the physical address width). ``num_keys`` is ``MK_TME_MAX_KEYS``: a
KeyID at or above it is invalid. Two meanings of the low KeyIDs are supported:

* ``keyid0="platform"`` (Intel): KeyID 0 uses the platform key, drawn from the entropy
  input at reset; KeyIDs 1 to ``num_keys - 1`` are programmable.
* ``keyid0="plaintext"`` (AMD SME, where one C-bit selects encryption): KeyID 0 is not
  encrypted and KeyID 1 uses the platform key; KeyIDs from 2 are programmable.
"""

from dataclasses import asdict, dataclass, field

from .geometry import LINE_BYTES, LINE_OFFSET_BITS

__all__ = ["KEYID0_MODES", "ENGINES", "SBOXES", "MemcryptConfig", "PRESETS", "preset",
           "require_config"]

KEYID0_MODES = ("platform", "plaintext")
ENGINES = ("iterative", "pipelined")
SBOXES = ("bram", "lut")
_KEY_SIZES = (128, 256)


def _require_int(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {bounds}, not {value}")
    return value


@dataclass(frozen=True)
class MemcryptConfig:
    """A memcrypt build's parameters; invalid combinations raise at construction.

    Parameters
    ----------
    phys_addr_bits : int
        Width of the physical address, KeyID bits included (8 to 64).
    keyid_bits : int
        KeyID bits at the top of the physical address (1 to 15).
    num_keys : int
        KeyIDs with key storage, KeyID 0 included (2 to ``2**keyid_bits``). An access with a
        KeyID at or above it is invalid.
    mem_bytes : int
        Bytes of physical memory behind the controller: a multiple of the 64-byte line, at
        most the stripped address space. A stripped address at or above it is out of range.
    key_sizes : tuple of int
        AES-XTS key sizes the build supports: ``(128,)``, ``(256,)`` or ``(128, 256)``.
    keyid0 : str
        ``"platform"`` (Intel) or ``"plaintext"`` (AMD SME); see the module docstring.
    platform_key_loadable : bool
        Bring-up and test builds only: the platform key may be loaded once per reset through
        the control interface (``LOAD_PLATFORM_KEY``). The default build has no such path.
    entropy_timeout : int
        Clock cycles a command waits for each 32-bit entropy word before it fails with
        ``ENTROPY_ERROR``.
    fault_log_depth : int
        Fault records kept (a power of two, 2 to 256); more are counted as overflow.
    cache_ways, cache_sets : int
        The controller's key-tagged cache: 1 to 8 ways of ``cache_sets`` sets (a power of
        two) of one 64-byte line each; the controller refuses more sets than the stripped
        address space has lines.
    engine : str
        The AES cores of the controller's AES-XTS engines: ``"iterative"`` (one round per
        clock, small: the default build fits the LFE5U-85F with both key sizes) or
        ``"pipelined"`` (one block per clock).
    sbox : str
        S-boxes of pipelined engines: ``"bram"`` or ``"lut"`` (ignored by iterative ones).
    host_id_width, memory_id_width : int
        AXI ID widths of the host port (0 to 32) and of the memory port (1 to 32).
    memory_base : int
        Byte address on the memory port of stripped address 0: a multiple of the 64-byte
        line; ``memory_base + mem_bytes`` must fit in ``phys_addr_bits`` bits (the memory
        port's address width).

    The data width of both AXI4 ports is the line's word, 128 bits.
    """

    phys_addr_bits: int = 40
    keyid_bits: int = 6
    num_keys: int = 64
    mem_bytes: int = 1 << 30
    key_sizes: tuple = (128, 256)
    keyid0: str = "platform"
    platform_key_loadable: bool = False
    entropy_timeout: int = 1024
    fault_log_depth: int = 16
    cache_ways: int = 4
    cache_sets: int = 64
    engine: str = "iterative"
    sbox: str = "bram"
    host_id_width: int = 4
    memory_id_width: int = 4
    memory_base: int = 0
    name: str = field(default="custom", compare=False)

    def __post_init__(self):
        _require_int("phys_addr_bits", self.phys_addr_bits, 8, 64)
        _require_int("keyid_bits", self.keyid_bits, 1, 15)
        if self.phys_addr_bits - self.keyid_bits < 7:
            raise ValueError(
                f"phys_addr_bits ({self.phys_addr_bits}) minus keyid_bits "
                f"({self.keyid_bits}) leaves {self.phys_addr_bits - self.keyid_bits} address "
                f"bits; a 64-byte line needs at least 7")
        _require_int("num_keys", self.num_keys, 2, 1 << self.keyid_bits)
        _require_int("mem_bytes", self.mem_bytes, LINE_BYTES)
        if self.mem_bytes % LINE_BYTES:
            raise ValueError(f"mem_bytes must be a multiple of {LINE_BYTES} (one line), "
                             f"not {self.mem_bytes}")
        if self.mem_bytes > 1 << self.stripped_bits:
            raise ValueError(
                f"mem_bytes ({self.mem_bytes:#x}) exceeds the {self.stripped_bits}-bit "
                f"stripped address space ({1 << self.stripped_bits:#x} bytes)")
        sizes = self.key_sizes
        if (not isinstance(sizes, tuple) or not sizes
                or any(size not in _KEY_SIZES for size in sizes)
                or len(set(sizes)) != len(sizes)):
            raise ValueError(f"key_sizes must be a non-empty tuple of distinct sizes from "
                             f"{_KEY_SIZES}, not {sizes!r}")
        object.__setattr__(self, "key_sizes", tuple(sorted(sizes)))
        if self.keyid0 not in KEYID0_MODES:
            raise ValueError(f"keyid0 must be one of {', '.join(KEYID0_MODES)}, "
                             f"not {self.keyid0!r}")
        if self.keyid0 == "plaintext" and self.num_keys < 2:
            raise ValueError("keyid0='plaintext' needs num_keys >= 2 (KeyID 1 holds the "
                             "platform key)")
        if not isinstance(self.platform_key_loadable, bool):
            raise TypeError(f"platform_key_loadable must be a bool, "
                            f"not {self.platform_key_loadable!r}")
        _require_int("entropy_timeout", self.entropy_timeout, 1, 1 << 20)
        _require_int("fault_log_depth", self.fault_log_depth, 2, 256)
        if self.fault_log_depth & (self.fault_log_depth - 1):
            raise ValueError(f"fault_log_depth must be a power of two, "
                             f"not {self.fault_log_depth}")
        _require_int("cache_ways", self.cache_ways, 1, 8)
        _require_int("cache_sets", self.cache_sets, 1, 1 << 16)
        if self.cache_sets & (self.cache_sets - 1):
            raise ValueError(f"cache_sets must be a power of two, not {self.cache_sets}")
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.sbox not in SBOXES:
            raise ValueError(f"sbox must be one of {', '.join(SBOXES)}, not {self.sbox!r}")
        _require_int("host_id_width", self.host_id_width, 0, 32)
        _require_int("memory_id_width", self.memory_id_width, 1, 32)
        _require_int("memory_base", self.memory_base, 0)
        if self.memory_base % LINE_BYTES:
            raise ValueError(f"memory_base must be a multiple of {LINE_BYTES} (one line), "
                             f"not {self.memory_base:#x}")
        if self.memory_base + self.mem_bytes > 1 << self.phys_addr_bits:
            raise ValueError(
                f"memory_base + mem_bytes ({self.memory_base + self.mem_bytes:#x}) does not "
                f"fit the {self.phys_addr_bits}-bit memory port address")

    # -- derived figures ---------------------------------------------------------------------

    @property
    def stripped_bits(self) -> int:
        """Width of the physical address with the KeyID removed, which is also the bit
        position of the KeyID's least significant bit in the physical address (the
        capability field CAP_ADDR.KEYID_SHIFT)."""
        return self.phys_addr_bits - self.keyid_bits

    @property
    def line_address_bits(self) -> int:
        """Width of a stripped line address (the stripped address without its 6 low bits)."""
        return self.stripped_bits - LINE_OFFSET_BITS

    @property
    def key_bits(self) -> int:
        """The largest supported key size: the width of a key field in the key table, and
        the size of the platform key."""
        return max(self.key_sizes)

    @property
    def platform_keyid(self) -> int:
        """The KeyID that uses the platform key (0, or 1 with ``keyid0="plaintext"``)."""
        return 0 if self.keyid0 == "platform" else 1

    @property
    def first_programmable_keyid(self) -> int:
        """The lowest KeyID software may program; lower ones are refused (INVALID_KEYID)."""
        return self.platform_keyid + 1

    def split(self, address: int) -> tuple[int, int]:
        """``(keyid, stripped address)`` of a physical address (the reference for the RTL)."""
        if not 0 <= address < 1 << self.phys_addr_bits:
            raise ValueError(f"address {address:#x} is wider than {self.phys_addr_bits} bits")
        return address >> self.stripped_bits, address & ((1 << self.stripped_bits) - 1)

    def join(self, keyid: int, stripped: int) -> int:
        """The physical address of ``stripped`` under ``keyid``."""
        if not 0 <= keyid < 1 << self.keyid_bits:
            raise ValueError(f"KeyID {keyid} does not fit in {self.keyid_bits} bits")
        if not 0 <= stripped < 1 << self.stripped_bits:
            raise ValueError(f"address {stripped:#x} is wider than {self.stripped_bits} bits")
        return keyid << self.stripped_bits | stripped

    def describe(self) -> list[str]:
        """Lines for ``memcrypt generate``: parameters and derived figures."""
        lines = [f"configuration {self.name}"]
        for key, value in asdict(self).items():
            if key != "name":
                lines.append(f"  {key:22} {value:#x}" if key in ("mem_bytes", "memory_base")
                             else f"  {key:22} {value}")
        lines += [
            f"  {'keyid field':22} address bits [{self.phys_addr_bits - 1}:{self.stripped_bits}]",
            f"  {'stripped address':22} {self.stripped_bits} bits",
            f"  {'platform keyid':22} {self.platform_keyid}",
            f"  {'programmable keyids':22} {self.first_programmable_keyid}.."
            f"{self.num_keys - 1}",
            f"  {'cache':22} {self.cache_ways} ways x {self.cache_sets} sets = "
            f"{self.cache_ways * self.cache_sets * LINE_BYTES} bytes",
        ]
        return lines


PRESETS = {
    # Intel TME-MK as first shipped: 6 KeyID bits, 63 keys plus the TME (platform) key.
    "intel": MemcryptConfig(phys_addr_bits=46, keyid_bits=6, num_keys=64,
                            mem_bytes=1 << 30, key_sizes=(128, 256), keyid0="platform",
                            name="intel"),
    # AMD SME: one C-bit; KeyID 0 plaintext, KeyID 1 the platform (SME) key, AES-128.
    "amd-sme": MemcryptConfig(phys_addr_bits=48, keyid_bits=1, num_keys=2,
                              mem_bytes=1 << 30, key_sizes=(128,), keyid0="plaintext",
                              name="amd-sme"),
    # The largest table: 1,024 keys (10 KeyID bits) in block RAM.
    "keys1024": MemcryptConfig(phys_addr_bits=42, keyid_bits=10, num_keys=1024,
                               mem_bytes=1 << 30, key_sizes=(128, 256), name="keys1024"),
    # Small and quick, for simulation: 4 KeyID bits, 16 keys, 1 MiB.
    "small": MemcryptConfig(phys_addr_bits=24, keyid_bits=4, num_keys=16,
                            mem_bytes=1 << 20, key_sizes=(128, 256), name="small"),
}


def preset(name: str) -> MemcryptConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"Unknown configuration {name!r}; presets: "
                         f"{', '.join(PRESETS)}") from None


def require_config(component, config) -> MemcryptConfig:
    """``config``, checked to be a :class:`MemcryptConfig` for ``component``'s constructor
    (a refused component is marked so that Amaranth does not also warn it was unused)."""
    if not isinstance(config, MemcryptConfig):
        from .amaranth_private import reject_construction  # noqa: PLC0415
        reject_construction(component)
        raise TypeError(f"config must be a MemcryptConfig, not {config!r}")
    return config
