"""The register map written out: a Markdown page, a C header and JSON.

``memcrypt regmap`` calls :func:`write_regmap`; everything here is computed from
:func:`memcrypt.regmap.register_map` and the enumerations beside it, so the documents cannot
drift from the gateware and the driver. The output is deterministic (no dates, no paths), so
a test can regenerate it and compare it byte for byte with the committed ``docs/``.

* :func:`markdown`: the page for people (``registers.md``).
* :func:`c_header`: ``#define`` constants for C software (``memcrypt_regs.h``).
* :func:`to_json`: the map for tools (``memcrypt_regs.json``); :func:`from_json` reads it back.
"""

import enum
import json
from dataclasses import fields
from pathlib import Path

from .. import regmap as rm
from ..config import MemcryptConfig
from ..regmap import (
    RESERVED_FAULT_KINDS,
    Access,
    Algorithm,
    Block,
    Command,
    CounterWord,
    FaultKind,
    FaultSource,
    Field,
    Irq,
    KeyWord,
    Register,
    RegisterMap,
    Status,
    register_map,
)

__all__ = [
    "FILENAMES", "config_label", "markdown", "c_header", "to_dict", "to_json", "from_json",
    "render", "write_regmap", "stale_files",
]

#: What :func:`write_regmap` writes, by format.
FILENAMES = {
    "markdown": "registers.md",
    "header": "memcrypt_regs.h",
    "json": "memcrypt_regs.json",
}

_GENERATOR = "memcrypt regmap"

# -- words for the enumerations ---------------------------------------------------------------
# Every member needs a line here; a member without one stops generation (see _describe).

_ACCESS = {
    Access.RO: "read-only; a write is ignored (OKAY response)",
    Access.RW: "read-write",
    Access.WO: "write-only; reads return zero (key material)",
    Access.W1C: "readable; writing 1 to a bit clears it",
    Access.WT: "a write triggers an action; reads return zero",
}

_COMMAND = {
    Command.SET_KEY_DIRECT: "Program the KeyID with the data key in KEY_FIELD_1 and the tweak "
                            "key in KEY_FIELD_2 (ENC_ALG gives their size; a 128-bit key "
                            "uses bytes 0 to 15).",
    Command.SET_KEY_RANDOM: "Program the KeyID with random keys: each key is the software "
                            "entropy in its key field XOR words drawn from the hardware "
                            "entropy input.",
    Command.CLEAR_KEY: "Return the KeyID to the platform key.",
    Command.NO_ENCRYPT: "Make the KeyID's memory plaintext.",
    Command.LOAD_PLATFORM_KEY: "Bring-up builds only (CAP_KEYS.PLATFORM_KEY_LOADABLE = 1): "
                               "load the platform key from KEY_FIELD_1 and KEY_FIELD_2, once "
                               "per reset.",
}

_STATUS = {
    Status.PROG_SUCCESS: "The command completed.",
    Status.INVALID_PROG_CMD: "COMMAND is not a command this build accepts "
                             "(LOAD_PLATFORM_KEY: bring-up builds only, once per reset).",
    Status.ENTROPY_ERROR: "The entropy input did not deliver a word within "
                          "CAP_ENTROPY.TIMEOUT clock cycles.",
    Status.INVALID_KEYID: "KEYID is not programmable: the platform KeyID, a lower one, or one "
                          "at or above CAP_KEYS.NUM_KEYS.",
    Status.INVALID_ENC_ALG: "ENC_ALG is not exactly one of the bits in CAP_KEYS.ENC_ALGS "
                            "(LOAD_PLATFORM_KEY: not the bit of the platform key's size, "
                            "the largest supported).",
    Status.DEVICE_BUSY: "A command is running (STATUS.BUSY = 1).",
}

_ALGORITHM = {
    Algorithm.AES_XTS_128: "AES-XTS with 128-bit data and tweak keys",
    Algorithm.AES_XTS_256: "AES-XTS with 256-bit data and tweak keys",
}

_FAULT_KIND = {
    FaultKind.INVALID_KEYID: "the access's KeyID is at or above NUM_KEYS (answered DECERR, "
                             "nothing written)",
    FaultKind.OUT_OF_RANGE: "a byte of the burst lies, without its KeyID, at or above the "
                            "memory size (CAP_MEM; answered DECERR, nothing written)",
    FaultKind.DMA_MASK: "a DMA request above the device's DMA mask",
    FaultKind.MEMORY_ERROR: "the memory answered a line's read or write with an error; the "
                            "address is the line's, with its KeyID, WRITE says which. A "
                            "failed read answers SLVERR to the access that needed the line, "
                            "which is not cached; a failed write-back loses the line (memory "
                            "keeps what it held, the cache no longer holds it)",
    FaultKind.BAD_CONTROL_ACCESS: "a control access to an offset not in the map (answered "
                                  "SLVERR)",
    FaultKind.PROTOCOL_ERROR: "a host burst AMBA forbids: reserved AxBURST, a WRAP not of "
                              "2, 4, 8 or 16 beats or not aligned to its size, AxSIZE wider "
                              "than the bus, or an INCR crossing 4 KiB (answered SLVERR, "
                              "nothing written)",
}

_FAULT_SOURCE = {
    FaultSource.HOST: "the host port",
    FaultSource.DMA: "the DMA port",
    FaultSource.CONTROL: "the control interface (this register block)",
}

_IRQ = {
    Irq.COMMAND_DONE: "a key-programming command finished, whatever its status",
    Irq.FAULT: "a fault was logged",
    Irq.FAULT_OVERFLOW: "a fault was lost because the log was full",
    Irq.FLUSH_DONE: "a flush started through FLUSH_CTRL finished",
}

_BLOCK = {
    Block.CACHE: "the key-tagged cache",
    Block.ENGINE: "the AES-XTS engine",
    Block.HOST_PORT: "the host port",
    Block.DMA_PORT: "the DMA port",
    Block.MEMORY_PORT: "the memory port",
}

#: The enumerations the documents list, with their C prefix and their descriptions.
ENUMS = (
    ("Command", Command, "CMD", _COMMAND),
    ("Status", Status, "STATUS", _STATUS),
    ("Algorithm", Algorithm, "ALG", _ALGORITHM),
    ("FaultKind", FaultKind, "FAULT_KIND", _FAULT_KIND),
    ("FaultSource", FaultSource, "FAULT_SOURCE", _FAULT_SOURCE),
    ("Irq", Irq, "IRQ", _IRQ),
    ("Block", Block, "BLOCK", _BLOCK),
)


def _members(enum_class):
    # Iterating an IntFlag skips nothing here (every member is a single bit), but list the
    # members explicitly so aliases and composite values can never sneak in or out.
    return list(enum_class.__members__.values())


def _describe(table, member):
    try:
        return table[member]
    except KeyError:
        raise ValueError(f"regmap_docs has no description for {member!r}; add one") from None


def config_label(config: MemcryptConfig) -> str:
    """``"default"`` for the default build (``MemcryptConfig()``), else the config's name."""
    return "default" if config == MemcryptConfig() else config.name


def _config_parameters(config: MemcryptConfig) -> dict:
    params = {f.name: getattr(config, f.name) for f in fields(config) if f.name != "name"}
    params["key_sizes"] = list(config.key_sizes)
    return params


def _derived(config: MemcryptConfig) -> dict:
    return {
        "stripped_bits": config.stripped_bits,
        "platform_keyid": config.platform_keyid,
        "first_programmable_keyid": config.first_programmable_keyid,
    }


def _blocks(blocks: Block) -> str:
    """``"the host port or the DMA port"``: the blocks of a reservation, in words."""
    return " or ".join(_describe(_BLOCK, member) for member in _members(Block)
                       if blocks & member)


def _reserved_note(blocks: Block) -> str:
    """The words marking a register or a value no block of this release produces."""
    names = ", ".join(f"`{member.name}`" for member in _members(Block) if blocks & member)
    return (f"**Reserved for {_blocks(blocks)}**: no block of this release produces it; it "
            f"reads zero unless CAP_BLOCKS.BLOCKS has {names}.")


def _hex(value: int, digits: int = 8) -> str:
    return f"0x{value:0{digits}X}"


def _bits(field: Field) -> str:
    return str(field.lsb) if field.width == 1 else f"{field.msb}:{field.lsb}"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _anchor(register: Register) -> str:
    # GitHub's heading anchors: lower case, punctuation other than - and _ dropped, spaces -.
    return f"{register.name.lower()}-0x{register.offset:03x}"


def _fields_with_gaps(register: Register):
    """The fields from bit 31 down, with ``None`` rows standing for reserved gaps."""
    rows = []
    bit = 32
    for field in sorted(register.fields, key=lambda f: f.lsb, reverse=True):
        if field.msb + 1 < bit:
            rows.append((None, field.msb + 1, bit - 1))
        rows.append((field, field.lsb, field.msb))
        bit = field.lsb
    if bit > 0:
        rows.append((None, 0, bit - 1))
    return rows


# -- Markdown ---------------------------------------------------------------------------------

def markdown(regmap: RegisterMap) -> str:
    """The register page (``registers.md``) for ``regmap``'s configuration."""
    config = regmap.config
    label = config_label(config)
    key_ctrl = regmap["KEYID_CTRL"]
    status = regmap["STATUS"]
    out = []
    add = out.append

    add("# memcrypt control registers")
    add("")
    add(f"<!-- Generated by `{_GENERATOR}` from `memcrypt.regmap` "
        f"(configuration {label}). Do not edit: change rtl/memcrypt/regmap.py and run "
        f"`{_GENERATOR}` again. -->")
    add("")
    add(f"Register map version {rm.VERSION_MAJOR}.{rm.VERSION_MINOR}, configuration "
        f"**{label}**. The C header `memcrypt_regs.h` and the JSON description "
        f"`memcrypt_regs.json` beside this page carry the same map; `memcrypt.host.driver` "
        f"programs it from Python.")
    add("")
    add("The control block is memcrypt's register interface: software programs the keys of "
        "the KeyIDs through it (modelled on the `MKTME_KEY_PROGRAM` leaf of Intel's "
        "`PCONFIG`), reads the build's capabilities, drains the fault log, handles "
        "interrupts and reads the performance counters.")
    add("")
    add("## Bus")
    add("")
    add(f"* AXI4-Lite slave with 32-bit data and a {1 << rm.ADDR_WIDTH}-byte window "
        f"({rm.ADDR_WIDTH} address bits). Registers are 32 bits wide at word-aligned byte "
        f"offsets; the byte lanes of a write follow WSTRB.")
    add("* An offset not in the map answers **SLVERR** (read data zero) and is logged as a "
        "`BAD_CONTROL_ACCESS` fault.")
    add("* A write to a read-only register is **ignored** and answered OKAY.")
    add("* The key fields (`KEY_FIELD_1_*`, `KEY_FIELD_2_*`) are **write-only**: reads return "
        "zero, and they are cleared when a command completes or fails.")
    add("* Reserved bits: write 0, ignore on read.")
    add("")
    add("| access | meaning |")
    add("|---|---|")
    for access in Access:
        add(f"| {access.value.upper()} | {_describe(_ACCESS, access)} |")
    add("")

    add("## Programming a key")
    add("")
    add("The sequence follows Intel's `MKTME_KEY_PROGRAM`: the command, its KeyID and its "
        "algorithm go in registers, the two key fields hold the keys (or the software "
        "entropy), and a doorbell starts it.")
    add("")
    add("1. After reset, wait until `STATUS.READY` = 1 and `STATUS.BUSY` = 0: the key table "
        "is initialised and the platform key drawn from the entropy input.")
    add("2. Write the KeyID to `KEYID`.")
    add(f"3. Write `KEYID_CTRL` = COMMAND | ENC_ALG << {key_ctrl.field('ENC_ALG').lsb}: the "
        "command (table below) and exactly one algorithm bit (ignored by `CLEAR_KEY` and "
        "`NO_ENCRYPT`).")
    add(f"4. Write the {rm.KEY_FIELD_WORDS} words of `KEY_FIELD_1` (data key) and of "
        "`KEY_FIELD_2` (tweak key). Byte k of a key is bits 8k+7:8k of its field, so word j "
        "holds bytes 4j to 4j+3 with byte 4j in bits 7:0 (in Python, "
        "`int.from_bytes(key[4*j:4*j+4], \"little\")`). A 128-bit key uses words 0 to 3; "
        "write zeros to the rest.")
    add("5. Write 1 to `DOORBELL.GO`.")
    add("6. Poll `STATUS` until `BUSY` = 0, or wait for the `COMMAND_DONE` interrupt. The "
        "command also retires the KeyID's cache lines, so it may take a while.")
    add("7. Read `STATUS.CODE`. If `STATUS.IGNORED` = 1, a register write or the doorbell "
        "came while busy and was dropped: repeat the sequence.")
    add("")
    add(f"`STATUS` reads {_hex(status.reset)} from reset (`DEVICE_BUSY`, BUSY = 1) until the "
        "platform key is drawn.")
    add("")

    add("### Status codes (`STATUS.CODE`)")
    add("")
    add("| code | name | meaning |")
    add("|---|---|---|")
    for member in _members(Status):
        add(f"| {member.value} | `{member.name}` | {_cell(_describe(_STATUS, member))} |")
    add("")

    add("### Commands (`KEYID_CTRL.COMMAND`)")
    add("")
    add("| value | name | what it does |")
    add("|---|---|---|")
    for member in _members(Command):
        add(f"| {_hex(member.value, 2)} | `{member.name}` | "
            f"{_cell(_describe(_COMMAND, member))} |")
    add("")

    add("### Algorithms (`KEYID_CTRL.ENC_ALG`, `CAP_KEYS.ENC_ALGS`)")
    add("")
    add("The bits of `IA32_TME_CAPABILITY`; bit 1 (AES-XTS-128 with integrity) is not "
        "supported.")
    add("")
    supported = regmap["CAP_KEYS"].field("ENC_ALGS").reset
    add(f"| bit | name | meaning | in configuration {label} |")
    add("|---|---|---|---|")
    for member in _members(Algorithm):
        add(f"| {member.value.bit_length() - 1} | `{member.name}` | "
            f"{_cell(_describe(_ALGORITHM, member))} | "
            f"{'yes' if supported & member.value else 'no'} |")
    add("")

    add("## Faults")
    add("")
    add(f"Faults go into a log of `CAP_ADDR.FAULT_LOG_DEPTH` records (configuration {label}: "
        f"{config.fault_log_depth}), oldest first. `FAULT_INFO.VALID` = 1 while a record is "
        "present; read `FAULT_ADDR_LO`, `FAULT_ADDR_HI` and `FAULT_INFO`, then write 1 to "
        "`FAULT_POP.POP` to drop it. A fault that finds the log full is counted in "
        "`FAULT_OVERFLOW` instead.")
    add("")
    add("| kind | name | meaning |")
    add("|---|---|---|")
    for member in _members(FaultKind):
        meaning = _describe(_FAULT_KIND, member)
        if member in RESERVED_FAULT_KINDS:
            meaning += (f". **Reserved for {_blocks(RESERVED_FAULT_KINDS[member])}**: no "
                        f"block of this release logs it")
        add(f"| {member.value} | `{member.name}` | {_cell(meaning)} |")
    add("")
    add("| source | name | meaning |")
    add("|---|---|---|")
    for member in _members(FaultSource):
        add(f"| {member.value} | `{member.name}` | "
            f"{_cell(_describe(_FAULT_SOURCE, member))} |")
    add("")

    add("## Interrupts")
    add("")
    add("The interrupt output is high while `IRQ_STATUS & IRQ_ENABLE` is not zero; "
        "`IRQ_STATUS` bits are set by the hardware and cleared by writing 1.")
    add("")
    add("| bit | name | set when |")
    add("|---|---|---|")
    for member in _members(Irq):
        add(f"| {member.value.bit_length() - 1} | `{member.name}` | "
            f"{_cell(_describe(_IRQ, member))} |")
    add("")

    add("## Blocks (`CAP_BLOCKS`)")
    add("")
    add("`CAP_BLOCKS.BLOCKS` says which blocks the build contains beside the control block "
        "(the top that instantiates the control block sets it: `memcrypt generate --top "
        "control` reads 0, `--top keyed-engine` reads `ENGINE`, `--top controller` reads "
        "`CACHE | ENGINE | HOST_PORT | MEMORY_PORT`). A register or fault kind reserved for "
        "a block reads zero (writes are ignored), or is never logged, in a build without "
        "it.")
    add("")
    add("| bit | name | block | reserved for it |")
    add("|---|---|---|---|")
    for member in _members(Block):
        reserved = [f"`{register.name}`" for register in regmap
                    if register.reserved_for & member]
        reserved += [f"fault kind `{kind.name}`"
                     for kind, blocks in RESERVED_FAULT_KINDS.items() if blocks & member]
        add(f"| {member.value.bit_length() - 1} | `{member.name}` | "
            f"{_cell(_describe(_BLOCK, member))} | {', '.join(reserved) or '—'} |")
    add("")

    add(f"## Capabilities of configuration {label}")
    add("")
    add("The `CAP_*` registers describe the build; software reads them rather than assuming "
        "these values (another configuration, e.g. `memcrypt regmap --config small`, "
        "differs).")
    add("")
    add("| parameter | value |")
    add("|---|---|")
    for name, value in _config_parameters(config).items():
        if name == "mem_bytes":
            shown = _hex(value)
        elif isinstance(value, bool):
            shown = "yes" if value else "no"
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value)
        else:
            shown = value
        add(f"| `{name}` | {shown} |")
    for name, value in _derived(config).items():
        add(f"| {name.replace('_', ' ')} | {value} |")
    add(f"| programmable KeyIDs | {config.first_programmable_keyid} to {config.num_keys - 1} |")
    add("")
    add("| register | field | reads |")
    add("|---|---|---|")
    for register in regmap:
        if register.name == "ID" or register.name == "VERSION" or \
                register.name.startswith("CAP_"):
            for field in register.fields:
                add(f"| `{register.name}` | {field.name} | {field.reset} "
                    f"({_hex(field.reset, 1)}) |")
    add("")

    add("## Summary")
    add("")
    add("| offset | name | access | reset | description |")
    add("|---|---|---|---|---|")
    for register in regmap:
        doc = register.doc
        if register.reserved_for:
            doc = f"Reserved for {_blocks(register.reserved_for)}. {doc}"
        add(f"| 0x{register.offset:03X} | [{register.name}](#{_anchor(register)}) | "
            f"{register.access.value.upper()} | {_hex(register.reset)} | "
            f"{_cell(doc)} |")
    add("")

    add("## Registers")
    for register in regmap:
        add("")
        add(f"### {register.name} (0x{register.offset:03X})")
        add("")
        add(f"{register.access.value.upper()}, reset {_hex(register.reset)}. {register.doc}")
        add("")
        if register.reserved_for:
            add(_reserved_note(register.reserved_for))
            add("")
        add("| bits | field | reset | description |")
        add("|---|---|---|---|")
        for field, low, high in _fields_with_gaps(register):
            bits = str(low) if low == high else f"{high}:{low}"
            if field is None:
                add(f"| {bits} | — | 0 | reserved |")
            else:
                add(f"| {bits} | {field.name} | {_hex(field.reset, 1)} | {_cell(field.doc)} |")
    return "\n".join(out) + "\n"


# -- C header ---------------------------------------------------------------------------------

def _c_hex(value: int, digits: int) -> str:
    return f"0x{value:0{digits}X}u"


def _c_groups(regmap: RegisterMap):
    """``[(comment, [(name, C literal), ...]), ...]``: the ``#define`` blocks of the header.

    Raises ``ValueError`` if two constants would get the same name.
    """
    groups = [
        ("Identification and sizes", [
            ("MEMCRYPT_ID_VALUE", _c_hex(rm.ID_VALUE, 8)),
            ("MEMCRYPT_VERSION_MAJOR", f"{rm.VERSION_MAJOR}u"),
            ("MEMCRYPT_VERSION_MINOR", f"{rm.VERSION_MINOR}u"),
            ("MEMCRYPT_ADDR_WIDTH", f"{rm.ADDR_WIDTH}u"),
            ("MEMCRYPT_KEY_FIELD_WORDS", f"{rm.KEY_FIELD_WORDS}u"),
        ]),
    ]
    for register in regmap:
        prefix = f"MEMCRYPT_{register.name}"
        defines = [(f"{prefix}_OFFSET", _c_hex(register.offset, 3)),
                   (f"{prefix}_RESET", _c_hex(register.reset, 8))]
        for field in register.fields:
            defines.append((f"{prefix}_{field.name}_SHIFT", f"{field.lsb}u"))
            defines.append((f"{prefix}_{field.name}_MASK", _c_hex(field.mask, 8)))
        summary = register.doc.split(". ")[0].rstrip(".")
        if register.reserved_for:
            defines.append((f"{prefix}_RESERVED_FOR", _c_hex(register.reserved_for, 2)))
            summary += (f"; reserved for {_blocks(register.reserved_for)} (no block of this "
                        f"release produces it; see MEMCRYPT_BLOCK_*)")
        groups.append((f"{register.name} ({register.access.value.upper()}): {summary}",
                       defines))
    for title, enum_class, prefix, table in ENUMS:
        for member in _members(enum_class):
            _describe(table, member)
        flags = issubclass(enum_class, enum.IntFlag)
        groups.append((f"{title} {'bits' if flags else 'values'}",
                       [(f"MEMCRYPT_{prefix}_{member.name}",
                         _c_hex(member.value, 2) if flags else f"{int(member.value)}u")
                        for member in _members(enum_class)]))
    groups.append(("Fault kinds reserved for a block no build of this release contains "
                   "(MEMCRYPT_BLOCK_* bits)",
                   [(f"MEMCRYPT_FAULT_KIND_{kind.name}_RESERVED_FOR", _c_hex(blocks, 2))
                    for kind, blocks in RESERVED_FAULT_KINDS.items()]))
    seen = set()
    for _comment, defines in groups:
        for name, _value in defines:
            if name in seen:
                raise ValueError(f"Two C constants are named {name}")
            seen.add(name)
    return groups


def c_header(regmap: RegisterMap) -> str:
    """The C header (``memcrypt_regs.h``): offsets, resets, field shifts and masks, enums."""
    label = config_label(regmap.config)
    groups = _c_groups(regmap)
    width = max(len(name) for _, defines in groups for name, _ in defines) + 1
    out = [
        "/*",
        " * memcrypt_regs.h: the memcrypt control registers "
        f"(register map version {rm.VERSION_MAJOR}.{rm.VERSION_MINOR}).",
        " *",
        f" * Generated by `{_GENERATOR}` from memcrypt.regmap (configuration {label}).",
        " * Do not edit: change rtl/memcrypt/regmap.py and run `memcrypt regmap` again.",
        " *",
        " * Offsets are byte offsets in the control block's AXI4-Lite window; every register",
        " * is 32 bits. A field's value is (reg & _MASK) >> _SHIFT. The _RESET values of the",
        f" * CAP_* registers are those of configuration {label}: read the registers instead.",
        " * See registers.md for the meaning of every register, field and value.",
        " */",
        "#ifndef MEMCRYPT_REGS_H",
        "#define MEMCRYPT_REGS_H",
    ]
    for comment, defines in groups:
        out += ["", f"/* {comment.replace('*/', '* /')} */"]
        out += [f"#define {name.ljust(width)}{value}" for name, value in defines]
    out += ["", "#endif /* MEMCRYPT_REGS_H */", ""]
    return "\n".join(out)


# -- JSON -------------------------------------------------------------------------------------

def to_dict(regmap: RegisterMap) -> dict:
    """The map as plain data: configuration, constants, enumerations, registers and fields."""
    config = regmap.config
    return {
        "generator": _GENERATOR,
        "version": {"major": rm.VERSION_MAJOR, "minor": rm.VERSION_MINOR},
        "id": rm.ID_VALUE,
        "addr_width": rm.ADDR_WIDTH,
        "data_width": 32,
        "key_field_words": rm.KEY_FIELD_WORDS,
        "config": {"name": config_label(config), **_config_parameters(config),
                   "derived": _derived(config)},
        "enums": {title: {member.name: int(member.value) for member in _members(enum_class)}
                  for title, enum_class, _prefix, _table in ENUMS},
        "perf_events": [{"name": name, "doc": doc,
                         "reserved_for": int(rm.RESERVED_EVENTS.get(name, rm.NO_BLOCKS))}
                        for name, doc in rm.PERF_EVENTS],
        "reserved_fault_kinds": {kind.name: int(blocks)
                                 for kind, blocks in RESERVED_FAULT_KINDS.items()},
        "registers": [
            {
                "name": register.name,
                "offset": register.offset,
                "access": register.access.value,
                "reset": register.reset,
                "doc": register.doc,
                "reserved_for": int(register.reserved_for),
                "key_word": (None if register.key_word is None else
                             {"field": register.key_word.field,
                              "word": register.key_word.word}),
                "counter": (None if register.counter is None else
                            {"event": register.counter.event,
                             "high": register.counter.high}),
                "fields": [
                    {"name": field.name, "lsb": field.lsb, "width": field.width,
                     "mask": field.mask, "reset": field.reset, "doc": field.doc}
                    for field in register.fields
                ],
            }
            for register in regmap
        ],
    }


def to_json(regmap: RegisterMap) -> str:
    """:func:`to_dict` as indented JSON text ending in a newline."""
    return json.dumps(to_dict(regmap), indent=2, ensure_ascii=False) + "\n"


def from_json(text: str) -> RegisterMap:
    """Read :func:`to_json`'s output back into a :class:`RegisterMap` (validated again)."""
    data = json.loads(text)
    params = {f.name: data["config"][f.name] for f in fields(MemcryptConfig)
              if f.name != "name"}
    params["key_sizes"] = tuple(params["key_sizes"])
    config = MemcryptConfig(**params, name=data["config"]["name"])
    registers = [
        Register(r["name"], r["offset"], Access(r["access"]), r["doc"],
                 tuple(Field(f["name"], f["lsb"], f["width"], f["doc"], f["reset"])
                       for f in r["fields"]),
                 key_word=None if r["key_word"] is None else KeyWord(**r["key_word"]),
                 counter=None if r["counter"] is None else CounterWord(**r["counter"]),
                 reserved_for=Block(r["reserved_for"]))
        for r in data["registers"]
    ]
    return RegisterMap(config, registers)


# -- files ------------------------------------------------------------------------------------

def render(config: MemcryptConfig) -> dict:
    """``{filename: text}`` of everything :func:`write_regmap` writes for ``config``."""
    regmap = register_map(config)
    return {
        FILENAMES["markdown"]: markdown(regmap),
        FILENAMES["header"]: c_header(regmap),
        FILENAMES["json"]: to_json(regmap),
    }


def write_regmap(config: MemcryptConfig, out_dir) -> dict:
    """Write ``registers.md``, ``memcrypt_regs.h`` and ``memcrypt_regs.json`` into
    ``out_dir`` (created if missing); return ``{format: path}`` with the formats of
    :data:`FILENAMES`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = render(config)
    written = {}
    for fmt, filename in FILENAMES.items():
        path = out_dir / filename
        path.write_bytes(texts[filename].encode("utf-8"))
        written[fmt] = path
    return written


def stale_files(config: MemcryptConfig, out_dir) -> list:
    """Paths in ``out_dir`` that are missing or differ from what :func:`write_regmap` would
    write (an empty list when the directory is current)."""
    out_dir = Path(out_dir)
    stale = []
    for filename, text in render(config).items():
        path = out_dir / filename
        if not path.is_file() or path.read_bytes() != text.encode("utf-8"):
            stale.append(path)
    return stale

