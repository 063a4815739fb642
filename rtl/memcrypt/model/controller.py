"""Golden system model of the memory-encryption controller (the ``controller`` top): what
the host sees through it and what memory holds behind it.

The controller's cache is invisible by design: it never holds a line under two KeyIDs at
once, writes a line back before using it under another KeyID, and writes a KeyID's lines
back under the old key before that KeyID's key changes. So the whole controller behaves
exactly like an *uncached* encrypted memory, which is what this model is:

* A physical address is a KeyID (its top ``keyid_bits``) and a stripped address
  (:meth:`memcrypt.config.MemcryptConfig.split`).
* Memory holds, for each 64-byte line at stripped line address ``A``, the ciphertext of
  its plaintext under the keys of the KeyID that last wrote it, at the time it wrote it:
  ``golden.encrypt_line(key1, key2, A, plaintext)``, the tweak being ``A`` (the README's
  XTS convention). A line never written holds zeros.
* A read of bytes under KeyID ``k`` decrypts the line under ``k``'s *current* keys; a
  write decrypts it under ``k``, merges the bytes (per strobe) and encrypts it under ``k``
  again. A read under ``k2`` of data written under ``k1`` therefore returns
  ``D_k2(E_k1(data))``.
* KeyID modes (:class:`Mode`): PLATFORM (never programmed, or cleared: the platform key,
  ``max(config.key_sizes)`` bits), KEYED (its own AES-XTS-128 or -256 key pair),
  NO_ENCRYPT (memory holds the plaintext). With ``keyid0="plaintext"`` (AMD SME) KeyID 0
  is NO_ENCRYPT and KeyID 1 the platform KeyID; otherwise KeyID 0 is the platform KeyID.
* A key change takes effect for the accesses after it; memory is unchanged by it.
* An access with a KeyID at or above ``num_keys`` (:attr:`AccessFault.INVALID_KEYID`,
  checked first), or any of whose bytes lies at a stripped address at or above
  ``mem_bytes`` (:attr:`AccessFault.OUT_OF_RANGE`), is refused and changes nothing.

The model only imports the AES-XTS golden model (:mod:`memcrypt.model.golden`) and the
configuration; nothing of the gateware, nothing of Amaranth.
"""

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..config import MemcryptConfig
from ..geometry import LINE_BYTES
from . import golden

__all__ = ["Mode", "KeyState", "AccessFault", "AccessRefused", "ControllerModel"]

_LINE_MASK = LINE_BYTES - 1


class Mode(enum.IntEnum):
    """What a KeyID does (the values of the key table's ``KeyMode``)."""
    PLATFORM = 0
    KEYED = 1
    NO_ENCRYPT = 2


class AccessFault(enum.IntEnum):
    """Why an access is refused (the values of the fault log's ``FaultKind``)."""
    INVALID_KEYID = 1
    OUT_OF_RANGE = 2


class AccessRefused(ValueError):
    """A read or write the controller refuses (DECERR); ``fault`` says why."""

    def __init__(self, fault: AccessFault, address: int):
        super().__init__(f"access at {address:#x} refused: {fault.name}")
        self.fault = fault
        self.address = address


@dataclass(frozen=True)
class KeyState:
    """A KeyID's state: its mode and, for KEYED, its data key (``key1``) and tweak key
    (``key2``)."""
    mode: Mode
    key1: bytes | None = None
    key2: bytes | None = None


_PLATFORM = KeyState(Mode.PLATFORM)
_NO_ENCRYPT = KeyState(Mode.NO_ENCRYPT)


class ControllerModel:
    """An uncached encrypted memory with per-KeyID keys (see the module docstring).

    Parameters
    ----------
    config : MemcryptConfig
        The build: address split, ``num_keys``, ``mem_bytes``, ``key_sizes``, ``keyid0``.
    platform_key : (bytes, bytes), optional
        The platform data and tweak keys, each ``config.key_bits / 8`` bytes; may also be
        given later with :meth:`set_platform_key` (an access that needs it raises until
        then).
    """

    def __init__(self, config: MemcryptConfig, platform_key: tuple[bytes, bytes] | None = None):
        if not isinstance(config, MemcryptConfig):
            raise TypeError(f"config must be a MemcryptConfig, not {config!r}")
        self.config = config
        self._platform_key = None
        self._keys: dict[int, KeyState] = {}
        self._lines: dict[int, bytes] = {}
        if platform_key is not None:
            self.set_platform_key(*platform_key)

    # -- keys ---------------------------------------------------------------------------------

    @property
    def platform_key(self) -> tuple[bytes, bytes] | None:
        return self._platform_key

    def set_platform_key(self, key1: bytes, key2: bytes):
        """The platform data and tweak keys (drawn from entropy at reset)."""
        size = self.config.key_bits // 8
        for name, key in (("key1", key1), ("key2", key2)):
            if not isinstance(key, bytes | bytearray) or len(key) != size:
                length = len(key) if isinstance(key, bytes | bytearray) else key
                raise ValueError(f"platform {name} must be {size} bytes "
                                 f"({self.config.key_bits} bits), not {length!r}")
        self._platform_key = (bytes(key1), bytes(key2))

    def _require_programmable(self, keyid: int):
        config = self.config
        if not config.first_programmable_keyid <= keyid < config.num_keys:
            raise ValueError(f"KeyID {keyid} is not programmable (KeyIDs "
                             f"{config.first_programmable_keyid} to {config.num_keys - 1} are)")

    def set_key(self, keyid: int, key1: bytes, key2: bytes):
        """SET_KEY_DIRECT or SET_KEY_RANDOM: ``keyid`` gets its own key pair (both 16 or
        both 32 bytes, a size of ``config.key_sizes``)."""
        self._require_programmable(keyid)
        if len(key1) != len(key2) or 8 * len(key1) not in self.config.key_sizes:
            raise ValueError(f"KeyID {keyid}: keys of {len(key1)} and {len(key2)} bytes; this "
                             f"build takes {self.config.key_sizes}-bit pairs")
        self._keys[keyid] = KeyState(Mode.KEYED, bytes(key1), bytes(key2))

    def clear_key(self, keyid: int):
        """CLEAR_KEY: ``keyid`` goes back to the platform key."""
        self._require_programmable(keyid)
        self._keys.pop(keyid, None)

    def no_encrypt(self, keyid: int):
        """NO_ENCRYPT: ``keyid``'s memory holds plaintext."""
        self._require_programmable(keyid)
        self._keys[keyid] = _NO_ENCRYPT

    def key_state(self, keyid: int) -> KeyState:
        """The mode of ``keyid`` and, for KEYED, its keys (the platform keys are not
        filled in: see :meth:`keys`)."""
        config = self.config
        if not 0 <= keyid < config.num_keys:
            raise ValueError(f"KeyID {keyid} has no key storage (num_keys {config.num_keys})")
        if keyid == 0 and config.keyid0 == "plaintext":
            return _NO_ENCRYPT
        return self._keys.get(keyid, _PLATFORM)

    def mode(self, keyid: int) -> Mode:
        return self.key_state(keyid).mode

    def keys(self, keyid: int) -> tuple[bytes, bytes] | None:
        """The (data key, tweak key) ``keyid`` encrypts with now; ``None`` for NO_ENCRYPT."""
        state = self.key_state(keyid)
        if state.mode == Mode.NO_ENCRYPT:
            return None
        if state.mode == Mode.KEYED:
            return state.key1, state.key2
        if self._platform_key is None:
            raise RuntimeError(f"KeyID {keyid} uses the platform key, which is not set yet")
        return self._platform_key

    # -- the line transform -------------------------------------------------------------------

    def encrypt(self, keyid: int, line: int, plaintext: bytes) -> bytes:
        """What memory holds for ``plaintext`` written to stripped line address ``line``
        under ``keyid`` now."""
        keys = self.keys(keyid)
        return bytes(plaintext) if keys is None else golden.encrypt_line(*keys, line, plaintext)

    def decrypt(self, keyid: int, line: int, ciphertext: bytes) -> bytes:
        """What a read under ``keyid`` now returns for a line holding ``ciphertext``."""
        keys = self.keys(keyid)
        return bytes(ciphertext) if keys is None else golden.decrypt_line(*keys, line, ciphertext)

    # -- memory -------------------------------------------------------------------------------

    def ciphertext(self, line: int) -> bytes:
        """What memory holds at stripped line address ``line`` (zeros if never written)."""
        self._require_line(line)
        return self._lines.get(line, bytes(LINE_BYTES))

    def set_ciphertext(self, line: int, ciphertext: bytes):
        """Force what memory holds at ``line`` (a write-back the memory refused leaves the
        old contents, which the caller knows)."""
        self._require_line(line)
        if len(ciphertext) != LINE_BYTES:
            raise ValueError(f"a line is {LINE_BYTES} bytes, not {len(ciphertext)}")
        self._lines[line] = bytes(ciphertext)

    def image(self) -> dict[int, bytes]:
        """Every line ever written: stripped line address -> ciphertext. Memory holds zeros
        at every other line."""
        return dict(self._lines)

    def plaintext(self, keyid: int, line: int) -> bytes:
        """The 64 bytes a read of stripped line address ``line`` under ``keyid`` returns."""
        return self.decrypt(keyid, line, self.ciphertext(line))

    def _require_line(self, line: int):
        if line & _LINE_MASK or not 0 <= line < self.config.mem_bytes:
            raise ValueError(f"{line:#x} is no line address below mem_bytes "
                             f"({self.config.mem_bytes:#x})")

    # -- accesses -----------------------------------------------------------------------------

    def fault(self, addresses: Iterable[int]) -> AccessFault | None:
        """Why an access to the physical byte ``addresses`` (one burst: one KeyID) is
        refused, or ``None``: INVALID_KEYID before OUT_OF_RANGE."""
        config = self.config
        out_of_range = False
        any_address = False
        for address in addresses:
            any_address = True
            keyid, stripped = config.split(address)
            if keyid >= config.num_keys:
                return AccessFault.INVALID_KEYID
            out_of_range |= stripped >= config.mem_bytes
        if not any_address:
            raise ValueError("an access covers at least one byte")
        return AccessFault.OUT_OF_RANGE if out_of_range else None

    def range_fault(self, address: int, nbytes: int) -> AccessFault | None:
        """:meth:`fault` of the ``nbytes`` bytes from ``address``."""
        return self.fault(range(address, address + nbytes))

    def _by_line(self, addresses: Iterable[int]) -> dict[tuple[int, int], list[int]]:
        """Physical byte addresses grouped by (KeyID, stripped line address), each with the
        byte offsets in the line; refused accesses raise :class:`AccessRefused`."""
        addresses = list(addresses)
        fault = self.fault(addresses)
        if fault is not None:
            raise AccessRefused(fault, min(addresses))
        lines: dict[tuple[int, int], list[int]] = {}
        for address in addresses:
            keyid, stripped = self.config.split(address)
            lines.setdefault((keyid, stripped & ~_LINE_MASK), []).append(stripped & _LINE_MASK)
        return lines

    def read_bytes(self, addresses: Iterable[int]) -> list[int]:
        """The bytes at physical ``addresses`` (in their order) as a read returns them."""
        addresses = list(addresses)
        plain = {key: self.plaintext(*key) for key in self._by_line(addresses)}
        values = []
        for address in addresses:
            keyid, stripped = self.config.split(address)
            values.append(plain[keyid, stripped & ~_LINE_MASK][stripped & _LINE_MASK])
        return values

    def read(self, address: int, nbytes: int) -> bytes:
        """The ``nbytes`` bytes from physical ``address`` as a read returns them."""
        return bytes(self.read_bytes(range(address, address + nbytes)))

    def write_bytes(self, values: Mapping[int, int]):
        """Write byte ``values[address]`` at each physical ``address``: per line,
        decrypt under the KeyID, merge, encrypt under it again. No bytes: nothing changes."""
        if not values:
            return
        grouped = self._by_line(values)
        for (keyid, line), offsets in grouped.items():
            plain = bytearray(self.plaintext(keyid, line))
            physical = self.config.join(keyid, line)
            for offset in offsets:
                value = values[physical + offset]
                if not 0 <= value <= 0xFF:
                    raise ValueError(f"byte value {value!r} at {physical + offset:#x}")
                plain[offset] = value
            self._lines[line] = self.encrypt(keyid, line, bytes(plain))

    def write(self, address: int, data: bytes, strobe: int | None = None):
        """Write ``data`` at physical ``address``; with ``strobe``, only the bytes whose
        bit is set (bit ``i`` for ``data[i]``)."""
        if strobe is not None and strobe >> len(data):
            raise ValueError(f"strobe {strobe:#x} is wider than {len(data)} bytes")
        values = {address + i: byte for i, byte in enumerate(data)
                  if strobe is None or strobe >> i & 1}
        if values:
            self.write_bytes(values)
        else:
            self._by_line(range(address, address + max(1, len(data))))   # still checked
