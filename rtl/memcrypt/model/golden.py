"""Plain-Python golden model of memcrypt's AES and AES-XTS datapaths.

This module is the reference the gateware is checked against. It never imports the RTL
(no Amaranth), so it can be trusted independently of it.

References
----------
* FIPS-197, *Advanced Encryption Standard (AES)*, NIST, 2001 (updated 2023): the S-box
  (§5.1.1), the cipher (§5.1), the key expansion (§5.2) and the inverse cipher (§5.3).
* IEEE Std 1619-2007, *Cryptographic Protection of Data on Block-Oriented Storage Devices*,
  §5 (XTS-AES): the tweak encryption, the multiplication by alpha in GF(2^128) (§5.2) and
  the per-block transform (§5.3.1, §5.4.1). Ciphertext stealing (§5.3.2) is not modelled:
  memcrypt's data unit is a whole 64-byte line.

Conventions (shared with the gateware)
--------------------------------------
* Byte ``k`` of a block, key or line is bits ``[8k+7:8k]`` of the hardware signal
  (:func:`to_bus` / :func:`from_bus`).
* A tweak is a 128-bit integer: the little-endian view of the 16-byte tweak block, so tweak
  block = ``tweak.to_bytes(16, "little")``.
* ``key1`` is the data key, ``key2`` the tweak key (IEEE 1619 order). Both have the same
  length: 16 bytes (XTS-AES-128) or 32 bytes (XTS-AES-256).
* A line's tweak is its stripped physical byte address (:func:`line_tweak`).

Two AES implementations live here: :func:`aes_encrypt_block` / :func:`aes_decrypt_block`
call pycryptodome; :func:`aes_encrypt_block_reference` /
:func:`aes_decrypt_block_reference` are a pure-Python FIPS-197 cipher built on
:data:`SBOX` and :func:`expand_key`, with the decryption walking the key schedule backwards
from :func:`decryption_key` exactly as the hardware does.
"""

from Crypto.Cipher import AES

from ..geometry import BLOCK_BYTES, LINE_BYTES

__all__ = [
    "BLOCK_BYTES", "LINE_BYTES", "KEY_BYTES", "TWEAK_BITS",
    "SBOX", "INV_SBOX", "RCON",
    "rounds", "expand_key", "decryption_key",
    "aes_encrypt_block", "aes_decrypt_block",
    "aes_encrypt_block_reference", "aes_decrypt_block_reference",
    "mul_alpha", "xts_tweaks", "xts_encrypt", "xts_decrypt",
    "line_tweak", "encrypt_line", "decrypt_line",
    "to_bus", "from_bus",
]

KEY_BYTES = (16, 32)
TWEAK_BITS = 128

_TWEAK_LIMIT = 1 << TWEAK_BITS
_TWEAK_MASK = _TWEAK_LIMIT - 1
_GF128_FEEDBACK = 0x87          # x^7 + x^2 + x + 1: x^128 reduced modulo the XTS polynomial
_GF256_MODULUS = 0x11B          # x^8 + x^4 + x^3 + x + 1, FIPS-197 §4.2
_AFFINE_CONSTANT = 0x63         # FIPS-197 §5.1.1, equation (5.1)
_ROUNDS_BY_KEY_BYTES = {16: 10, 32: 14}
_WORD_BYTES = 4
_COLUMNS = 4


# --- GF(2^8) and the AES tables ---------------------------------------------------------

def _gf256_mul(a: int, b: int) -> int:
    """Multiply two bytes in GF(2^8) modulo the AES polynomial (FIPS-197 §4.2)."""
    product = 0
    while b:
        if b & 1:
            product ^= a
        a <<= 1
        if a & 0x100:
            a ^= _GF256_MODULUS
        b >>= 1
    return product


def _gf256_inverse(a: int) -> int:
    """Multiplicative inverse in GF(2^8), with 0 mapped to 0 (FIPS-197 §5.1.1)."""
    if a == 0:
        return 0
    # a^254 = a^-1 because the multiplicative group has order 255.
    result, base, exponent = 1, a, 254
    while exponent:
        if exponent & 1:
            result = _gf256_mul(result, base)
        base = _gf256_mul(base, base)
        exponent >>= 1
    return result


def _rotate_byte_left(value: int, amount: int) -> int:
    return ((value << amount) | (value >> (8 - amount))) & 0xFF


def _affine_map(value: int) -> int:
    """The S-box affine transformation of FIPS-197 §5.1.1, equation (5.1)."""
    return (value ^ _rotate_byte_left(value, 1) ^ _rotate_byte_left(value, 2)
            ^ _rotate_byte_left(value, 3) ^ _rotate_byte_left(value, 4) ^ _AFFINE_CONSTANT)


def _compute_sbox() -> tuple[int, ...]:
    return tuple(_affine_map(_gf256_inverse(value)) for value in range(256))


def _invert_permutation(table: tuple[int, ...]) -> tuple[int, ...]:
    inverse = [0] * len(table)
    for index, value in enumerate(table):
        inverse[value] = index
    return tuple(inverse)


def _compute_rcon() -> tuple[int, ...]:
    """Round constants x^(i-1) in GF(2^8) for i = 1..10 (FIPS-197 §5.2); index 0 unused."""
    constants = [0]
    power = 1
    for _ in range(10):
        constants.append(power)
        power = _gf256_mul(power, 2)
    return tuple(constants)


SBOX: tuple[int, ...] = _compute_sbox()
INV_SBOX: tuple[int, ...] = _invert_permutation(SBOX)
RCON: tuple[int, ...] = _compute_rcon()


# --- Argument checks --------------------------------------------------------------------

def _require_bytes(name: str, value) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"{name} must be bytes, not {type(value).__name__}")
    return bytes(value)


def _require_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def _require_key(key, name: str = "key") -> bytes:
    key = _require_bytes(name, key)
    if len(key) == 24:
        raise ValueError(f"{name} is 24 bytes (AES-192), which memcrypt does not support: "
                         "use a 16-byte (AES-128) or 32-byte (AES-256) key")
    if len(key) not in _ROUNDS_BY_KEY_BYTES:
        raise ValueError(f"{name} must be 16 bytes (AES-128) or 32 bytes (AES-256), "
                         f"got {len(key)} bytes")
    return key


def _require_block(block, name: str = "block") -> bytes:
    block = _require_bytes(name, block)
    if len(block) != BLOCK_BYTES:
        raise ValueError(f"{name} must be {BLOCK_BYTES} bytes, got {len(block)} bytes")
    return block


def _require_key_pair(key1, key2) -> tuple[bytes, bytes]:
    key1 = _require_key(key1, "key1")
    key2 = _require_key(key2, "key2")
    if len(key1) != len(key2):
        raise ValueError(f"key1 and key2 must have the same length, got {len(key1)} and "
                         f"{len(key2)} bytes")
    return key1, key2


def _require_tweak(tweak) -> int:
    tweak = _require_int("tweak", tweak)
    if not 0 <= tweak < _TWEAK_LIMIT:
        raise ValueError(f"tweak must be in [0, 2**{TWEAK_BITS}), got {tweak:#x}")
    return tweak


def _require_data_unit(data, name: str = "data") -> bytes:
    data = _require_bytes(name, data)
    if len(data) == 0 or len(data) % BLOCK_BYTES:
        raise ValueError(f"{name} length must be a non-zero multiple of {BLOCK_BYTES} bytes "
                         f"(no ciphertext stealing), got {len(data)} bytes")
    return data


def _require_line(line, name: str) -> bytes:
    line = _require_bytes(name, line)
    if len(line) != LINE_BYTES:
        raise ValueError(f"{name} must be one {LINE_BYTES}-byte line, got {len(line)} bytes")
    return line


# --- Key expansion (FIPS-197 §5.2) ------------------------------------------------------

def rounds(key: bytes) -> int:
    """Number of AES rounds ``Nr`` for ``key``.

    Parameters
    ----------
    key : bytes
        16 bytes (AES-128) or 32 bytes (AES-256).

    Returns
    -------
    int
        10 or 14.

    Raises
    ------
    TypeError
        If ``key`` is not bytes.
    ValueError
        For any other length; 24-byte (AES-192) keys are rejected with their own message.
    """
    return _ROUNDS_BY_KEY_BYTES[len(_require_key(key))]


def _sub_word(word: bytes) -> bytes:
    return bytes(SBOX[byte] for byte in word)


def _rot_word(word: bytes) -> bytes:
    return word[1:] + word[:1]


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def _schedule_core(previous_word: bytes, index: int, key_words: int) -> bytes:
    """The ``temp`` word of FIPS-197 Algorithm 2 for word ``index`` of the schedule."""
    if index % key_words == 0:
        rcon_word = bytes((RCON[index // key_words], 0, 0, 0))
        return _xor(_sub_word(_rot_word(previous_word)), rcon_word)
    if key_words > 6 and index % key_words == 4:
        return _sub_word(previous_word)
    return previous_word


def _words_to_round_keys(words: list[bytes]) -> list[bytes]:
    return [b"".join(words[i:i + _COLUMNS]) for i in range(0, len(words), _COLUMNS)]


def expand_key(key: bytes) -> list[bytes]:
    """Expand a cipher key into its round keys (FIPS-197 §5.2, Algorithm 2).

    Parameters
    ----------
    key : bytes
        16 or 32 bytes.

    Returns
    -------
    list of bytes
        ``Nr + 1`` round keys of 16 bytes each; round key ``r`` is words
        ``w[4r] .. w[4r+3]``.
    """
    key = _require_key(key)
    key_words = len(key) // _WORD_BYTES
    total_words = _COLUMNS * (_ROUNDS_BY_KEY_BYTES[len(key)] + 1)
    words = [key[i:i + _WORD_BYTES] for i in range(0, len(key), _WORD_BYTES)]
    for index in range(key_words, total_words):
        temp = _schedule_core(words[index - 1], index, key_words)
        words.append(_xor(words[index - key_words], temp))
    return _words_to_round_keys(words)


def decryption_key(key: bytes) -> bytes:
    """The key the hardware's decryption starts from: the tail of the key schedule.

    Parameters
    ----------
    key : bytes
        16 or 32 bytes.

    Returns
    -------
    bytes
        AES-128: round key 10 (16 bytes). AES-256: round keys 13 and 14 concatenated
        (32 bytes, i.e. words ``w[52..59]``), the last ``Nk`` words of the schedule, from
        which the whole schedule can be run backwards.
    """
    key = _require_key(key)
    round_keys = expand_key(key)
    key_round_keys = len(key) // BLOCK_BYTES
    return b"".join(round_keys[-key_round_keys:])


def _round_keys_from_decryption_key(start_key: bytes) -> list[bytes]:
    """Run the key schedule backwards from :func:`decryption_key`, as the hardware does.

    ``w[i - Nk] = w[i] ^ temp(w[i - 1])`` for ``i`` from the last word down to ``Nk``.
    """
    key_words = len(start_key) // _WORD_BYTES
    total_words = _COLUMNS * (_ROUNDS_BY_KEY_BYTES[len(start_key)] + 1)
    words: list[bytes | None] = [None] * total_words
    for offset in range(key_words):
        words[total_words - key_words + offset] = start_key[offset * _WORD_BYTES:
                                                             (offset + 1) * _WORD_BYTES]
    for index in range(total_words - 1, key_words - 1, -1):
        temp = _schedule_core(words[index - 1], index, key_words)
        words[index - key_words] = _xor(words[index], temp)
    return _words_to_round_keys(words)


# --- AES block cipher -------------------------------------------------------------------

def aes_encrypt_block(key: bytes, block: bytes) -> bytes:
    """Encrypt one 16-byte block with AES (pycryptodome, ECB).

    Parameters
    ----------
    key : bytes
        16 or 32 bytes.
    block : bytes
        16 bytes of plaintext.

    Returns
    -------
    bytes
        16 bytes of ciphertext.
    """
    return AES.new(_require_key(key), AES.MODE_ECB).encrypt(_require_block(block))


def aes_decrypt_block(key: bytes, block: bytes) -> bytes:
    """Decrypt one 16-byte block with AES (pycryptodome, ECB); the inverse of
    :func:`aes_encrypt_block`."""
    return AES.new(_require_key(key), AES.MODE_ECB).decrypt(_require_block(block))


# The state is kept as the 16 input bytes in order: byte r + 4c is state row r, column c
# (FIPS-197 §3.4), so ShiftRows moves byte r + 4c to r + 4(c - r).
_SHIFT_ROWS_SOURCE = tuple(row + _COLUMNS * ((column + row) % _COLUMNS)
                           for column in range(_COLUMNS) for row in range(4))
_INV_SHIFT_ROWS_SOURCE = _invert_permutation(_SHIFT_ROWS_SOURCE)
_MIX_COLUMNS_MATRIX = ((2, 3, 1, 1), (1, 2, 3, 1), (1, 1, 2, 3), (3, 1, 1, 2))
_INV_MIX_COLUMNS_MATRIX = ((14, 11, 13, 9), (9, 14, 11, 13), (13, 9, 14, 11), (11, 13, 9, 14))


def _sub_bytes(state: bytes, table: tuple[int, ...]) -> bytes:
    return bytes(table[byte] for byte in state)


def _permute(state: bytes, source: tuple[int, ...]) -> bytes:
    return bytes(state[index] for index in source)


def _mix_columns(state: bytes, matrix: tuple[tuple[int, ...], ...]) -> bytes:
    mixed = bytearray()
    for column in range(_COLUMNS):
        column_bytes = state[_COLUMNS * column:_COLUMNS * (column + 1)]
        for coefficients in matrix:
            value = 0
            for coefficient, byte in zip(coefficients, column_bytes, strict=True):
                value ^= _gf256_mul(coefficient, byte)
            mixed.append(value)
    return bytes(mixed)


def aes_encrypt_block_reference(key: bytes, block: bytes) -> bytes:
    """Pure-Python FIPS-197 cipher (§5.1), round for round like the hardware.

    Round 0 is AddRoundKey; rounds 1..Nr-1 are SubBytes, ShiftRows, MixColumns,
    AddRoundKey; the final round omits MixColumns.

    Parameters
    ----------
    key : bytes
        16 or 32 bytes.
    block : bytes
        16 bytes of plaintext.

    Returns
    -------
    bytes
        16 bytes of ciphertext, equal to :func:`aes_encrypt_block`.
    """
    block = _require_block(block)
    round_keys = expand_key(key)
    state = _xor(block, round_keys[0])
    for round_key in round_keys[1:-1]:
        state = _permute(_sub_bytes(state, SBOX), _SHIFT_ROWS_SOURCE)
        state = _xor(_mix_columns(state, _MIX_COLUMNS_MATRIX), round_key)
    state = _permute(_sub_bytes(state, SBOX), _SHIFT_ROWS_SOURCE)
    return _xor(state, round_keys[-1])


def aes_decrypt_block_reference(key: bytes, block: bytes) -> bytes:
    """Pure-Python FIPS-197 inverse cipher (§5.3).

    The round keys are recovered by running the key schedule backwards from
    :func:`decryption_key`, the way the hardware decrypts without storing the schedule.

    Parameters
    ----------
    key : bytes
        16 or 32 bytes (the cipher key, not the decryption key).
    block : bytes
        16 bytes of ciphertext.

    Returns
    -------
    bytes
        16 bytes of plaintext, equal to :func:`aes_decrypt_block`.
    """
    block = _require_block(block)
    round_keys = _round_keys_from_decryption_key(decryption_key(key))
    state = _xor(block, round_keys[-1])
    for round_key in reversed(round_keys[1:-1]):
        state = _sub_bytes(_permute(state, _INV_SHIFT_ROWS_SOURCE), INV_SBOX)
        state = _mix_columns(_xor(state, round_key), _INV_MIX_COLUMNS_MATRIX)
    state = _sub_bytes(_permute(state, _INV_SHIFT_ROWS_SOURCE), INV_SBOX)
    return _xor(state, round_keys[0])


# --- XTS (IEEE 1619-2007 §5) ------------------------------------------------------------

def mul_alpha(t: int) -> int:
    """Multiply a tweak by alpha (the polynomial x) in GF(2^128), IEEE 1619-2007 §5.2.

    Parameters
    ----------
    t : int
        The tweak as a 128-bit integer (little-endian view of the 16-byte block).

    Returns
    -------
    int
        ``t`` shifted left by one bit, XORed with 0x87 if bit 127 of ``t`` was set.
    """
    t = _require_tweak(t)
    product = (t << 1) & _TWEAK_MASK
    if t >> (TWEAK_BITS - 1):
        product ^= _GF128_FEEDBACK
    return product


def xts_tweaks(key2: bytes, tweak: int, blocks: int) -> list[int]:
    """The per-block tweak values ``T_j = E_key2(tweak) * alpha^j`` for ``j < blocks``.

    Parameters
    ----------
    key2 : bytes
        The tweak key, 16 or 32 bytes.
    tweak : int
        128-bit tweak (data unit sequence number or, for memcrypt, the line address).
    blocks : int
        Number of blocks in the data unit.

    Returns
    -------
    list of int
        128-bit integers, little-endian views of the 16-byte tweak blocks.
    """
    tweak = _require_tweak(tweak)
    encrypted = AES.new(_require_key(key2, "key2"), AES.MODE_ECB).encrypt(
        tweak.to_bytes(BLOCK_BYTES, "little"))
    current = int.from_bytes(encrypted, "little")
    values = []
    for _ in range(blocks):
        values.append(current)
        current = mul_alpha(current)
    return values


def _xts_transform(key1, key2, tweak, data, *, decrypt: bool) -> bytes:
    key1, key2 = _require_key_pair(key1, key2)
    data = _require_data_unit(data)
    block_count = len(data) // BLOCK_BYTES
    tweaks = xts_tweaks(key2, tweak, block_count)
    whitened = b"".join(
        (int.from_bytes(data[j * BLOCK_BYTES:(j + 1) * BLOCK_BYTES], "little") ^ t)
        .to_bytes(BLOCK_BYTES, "little")
        for j, t in enumerate(tweaks))
    cipher = AES.new(key1, AES.MODE_ECB)
    transformed = cipher.decrypt(whitened) if decrypt else cipher.encrypt(whitened)
    return b"".join(
        (int.from_bytes(transformed[j * BLOCK_BYTES:(j + 1) * BLOCK_BYTES], "little") ^ t)
        .to_bytes(BLOCK_BYTES, "little")
        for j, t in enumerate(tweaks))


def xts_encrypt(key1: bytes, key2: bytes, tweak: int, data: bytes) -> bytes:
    """XTS-AES encryption of one data unit (IEEE 1619-2007 §5.3, whole blocks only).

    ``T_0 = E_key2(tweak)``; for block ``j``: ``C_j = E_key1(P_j ^ T_j) ^ T_j`` and
    ``T_{j+1} = T_j * alpha``.

    Parameters
    ----------
    key1 : bytes
        Data key, 16 or 32 bytes.
    key2 : bytes
        Tweak key, same length as ``key1``. ``key1 == key2`` is accepted (IEEE 1619
        vector 1 uses it).
    tweak : int
        128-bit tweak, encoded little-endian into the tweak block.
    data : bytes
        Plaintext, a non-zero multiple of 16 bytes.

    Returns
    -------
    bytes
        Ciphertext of the same length.

    Raises
    ------
    TypeError
        For arguments of the wrong type.
    ValueError
        For bad or mismatched key lengths, a bad data length or an out-of-range tweak.
    """
    return _xts_transform(key1, key2, tweak, data, decrypt=False)


def xts_decrypt(key1: bytes, key2: bytes, tweak: int, data: bytes) -> bytes:
    """XTS-AES decryption of one data unit (IEEE 1619-2007 §5.4, whole blocks only).

    ``P_j = D_key1(C_j ^ T_j) ^ T_j`` with the same tweaks as :func:`xts_encrypt`
    (``T_0`` is an *encryption* under ``key2``). Arguments as for :func:`xts_encrypt`.
    """
    return _xts_transform(key1, key2, tweak, data, decrypt=True)


# --- memcrypt lines ---------------------------------------------------------------------

def line_tweak(stripped_address: int) -> int:
    """The tweak of the line at ``stripped_address``: the address itself.

    Parameters
    ----------
    stripped_address : int
        Physical byte address with the key-ID bits removed; 64-byte aligned, non-negative,
        below 2**128.

    Returns
    -------
    int
        ``stripped_address``, as a 128-bit little-endian tweak.

    Raises
    ------
    ValueError
        If the address is negative, too wide, or not 64-byte aligned.
    """
    address = _require_int("stripped_address", stripped_address)
    if address < 0:
        raise ValueError(f"stripped address must be non-negative, got {address}")
    if address >= _TWEAK_LIMIT:
        raise ValueError(f"stripped address must be below 2**{TWEAK_BITS}, got {address:#x}")
    if address % LINE_BYTES:
        raise ValueError(f"stripped address {address:#x} is not {LINE_BYTES}-byte aligned")
    return address


def encrypt_line(key1: bytes, key2: bytes, stripped_address: int, plaintext: bytes) -> bytes:
    """Encrypt one 64-byte line as an XTS data unit whose tweak is its address.

    Parameters
    ----------
    key1, key2 : bytes
        Data key and tweak key, both 16 or both 32 bytes.
    stripped_address : int
        The line's stripped physical byte address (see :func:`line_tweak`).
    plaintext : bytes
        64 bytes.

    Returns
    -------
    bytes
        64 bytes of ciphertext.
    """
    plaintext = _require_line(plaintext, "plaintext")
    return xts_encrypt(key1, key2, line_tweak(stripped_address), plaintext)


def decrypt_line(key1: bytes, key2: bytes, stripped_address: int, ciphertext: bytes) -> bytes:
    """Decrypt one 64-byte line; the inverse of :func:`encrypt_line`."""
    ciphertext = _require_line(ciphertext, "ciphertext")
    return xts_decrypt(key1, key2, line_tweak(stripped_address), ciphertext)


# --- Bus encoding -----------------------------------------------------------------------

def to_bus(b: bytes) -> int:
    """Pack bytes into a hardware signal value: byte ``k`` -> bits ``[8k+7:8k]``."""
    return int.from_bytes(_require_bytes("b", b), "little")


def from_bus(value: int, nbytes: int) -> bytes:
    """Unpack a hardware signal value into ``nbytes`` bytes; the inverse of :func:`to_bus`.

    Raises
    ------
    ValueError
        If ``nbytes`` is negative or ``value`` does not fit in ``8 * nbytes`` bits.
    """
    value = _require_int("value", value)
    nbytes = _require_int("nbytes", nbytes)
    if nbytes < 0:
        raise ValueError(f"nbytes must be non-negative, got {nbytes}")
    if not 0 <= value < 1 << (8 * nbytes):
        raise ValueError(f"value {value:#x} does not fit in {nbytes} bytes "
                         f"({8 * nbytes} bits, unsigned)")
    return value.to_bytes(nbytes, "little")
