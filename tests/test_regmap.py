"""The register map, its generated documents (docs/ must be current) and `memcrypt regmap`."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from amaranth.hdl import Shape

from memcrypt.config import PRESETS, MemcryptConfig
from memcrypt.flow.cli import main
from memcrypt.host import regmap_docs
from memcrypt.host.regmap_docs import (
    FILENAMES,
    c_header,
    from_json,
    markdown,
    render,
    stale_files,
    to_json,
    write_regmap,
)
from memcrypt.regmap import (
    FIELD_ENUMS,
    ID_VALUE,
    KEY_FIELD_WORDS,
    NO_BLOCKS,
    PERF_EVENTS,
    RESERVED_EVENTS,
    RESERVED_FAULT_KINDS,
    Access,
    Block,
    Command,
    FaultKind,
    Field,
    Register,
    RegisterMap,
    Status,
    register_map,
)

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CONFIGS = {"default": MemcryptConfig(), **PRESETS}


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "memcrypt.flow.cli", *args],
                          capture_output=True, text=True, cwd=cwd)


# -- the committed documents ------------------------------------------------------------------

def test_committed_docs_are_current(tmp_path):
    """Fails when regmap.py (or the generator) changed without `memcrypt regmap` being run:
    regenerate with `memcrypt regmap` in the repository root and commit docs/."""
    written = write_regmap(MemcryptConfig(), tmp_path)
    assert sorted(path.name for path in written.values()) == sorted(FILENAMES.values())
    for path in written.values():
        committed = DOCS / path.name
        assert committed.is_file(), f"{committed} is missing: run `memcrypt regmap`"
        assert committed.read_bytes() == path.read_bytes(), \
            f"{committed} is stale: run `memcrypt regmap` in {ROOT} and commit docs/"


def test_output_is_deterministic_and_differs_per_configuration():
    assert render(MemcryptConfig()) == render(MemcryptConfig())
    assert render(PRESETS["small"]) != render(MemcryptConfig())
    text = render(MemcryptConfig())["registers.md"]
    assert not re.search(r"20\d\d-\d\d-\d\d", text)


# -- the map ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CONFIGS)
def test_registers_are_aligned_and_do_not_overlap(name):
    regmap = register_map(CONFIGS[name])
    offsets = [register.offset for register in regmap]
    assert offsets == sorted(set(offsets))
    assert all(offset % 4 == 0 and offset < 0x1000 for offset in offsets)
    for register in regmap:
        used = 0
        for field in register.fields:
            assert 0 <= field.lsb <= field.msb <= 31
            assert not used & field.mask, (register.name, field.name)
            used |= field.mask
            assert 0 <= field.reset < 1 << field.width, (register.name, field.name)
        assert register.reset & ~used == 0


def _reg(name, offset, *fields, access="rw"):
    return Register(name, offset, Access(access), "doc", tuple(fields))


@pytest.mark.parametrize("registers, message", [
    ([_reg("A", 0x0, Field("X", 0, 8, "")), _reg("B", 0x0, Field("X", 0, 8, ""))],
     "Duplicate register offset"),
    ([_reg("A", 0x0, Field("X", 0, 8, "")), _reg("A", 0x4, Field("X", 0, 8, ""))],
     "Duplicate register name"),
    ([_reg("A", 0x0, Field("X", 0, 8, ""), Field("Y", 7, 2, ""))], "A.Y overlaps"),
    ([_reg("A", 0x0, Field("X", 30, 4, ""))], "A.X overlaps or overflows"),
    ([_reg("A", 0x2, Field("X", 0, 8, ""))], "bad offset 0x2"),
    ([_reg("A", 0x1000, Field("X", 0, 8, ""))], "bad offset 0x1000"),
])
def test_register_map_rejects_overlaps(registers, message):
    with pytest.raises(ValueError, match=message):
        RegisterMap(MemcryptConfig(), registers)


def test_capability_resets_follow_the_configuration():
    for config in CONFIGS.values():
        regmap = register_map(config)
        keys = regmap["CAP_KEYS"]
        assert keys.field("NUM_KEYS").reset == config.num_keys
        assert keys.field("KEYID_BITS").reset == config.keyid_bits
        mem = regmap["CAP_MEM_HI"].reset << 32 | regmap["CAP_MEM_LO"].reset
        assert mem == config.mem_bytes
        assert regmap["CAP_ADDR"].field("KEYID_SHIFT").reset == config.stripped_bits
    assert register_map(PRESETS["amd-sme"])["CAP_KEYS"].field("ENC_ALGS").reset == 0b001


# -- C header ---------------------------------------------------------------------------------

def parse_defines(text):
    defines = {}
    for line in text.splitlines():
        if line.startswith("#define"):
            match = re.fullmatch(r"#define (MEMCRYPT_\w+) +(0x[0-9A-F]+|\d+)u", line)
            if match is None:
                assert line == "#define MEMCRYPT_REGS_H", line
                continue
            name, value = match.groups()
            assert name not in defines, name
            defines[name] = int(value, 0)
    return defines


def expected_defines(regmap):
    expected = {"MEMCRYPT_ID_VALUE": ID_VALUE, "MEMCRYPT_VERSION_MAJOR": 0,
                "MEMCRYPT_VERSION_MINOR": 4, "MEMCRYPT_ADDR_WIDTH": 12,
                "MEMCRYPT_KEY_FIELD_WORDS": 8}
    for register in regmap:
        expected[f"MEMCRYPT_{register.name}_OFFSET"] = register.offset
        expected[f"MEMCRYPT_{register.name}_RESET"] = register.reset
        for field in register.fields:
            expected[f"MEMCRYPT_{register.name}_{field.name}_SHIFT"] = field.lsb
            expected[f"MEMCRYPT_{register.name}_{field.name}_MASK"] = field.mask
        if register.reserved_for:
            expected[f"MEMCRYPT_{register.name}_RESERVED_FOR"] = register.reserved_for
    for kind, blocks in RESERVED_FAULT_KINDS.items():
        expected[f"MEMCRYPT_FAULT_KIND_{kind.name}_RESERVED_FOR"] = blocks
    for _title, enum_class, prefix, _table in regmap_docs.ENUMS:
        for member in enum_class.__members__.values():
            expected[f"MEMCRYPT_{prefix}_{member.name}"] = int(member.value)
    return expected


@pytest.mark.parametrize("name", CONFIGS)
def test_c_header_values_match_the_map(name):
    regmap = register_map(CONFIGS[name])
    defines = parse_defines(c_header(regmap))
    assert defines == expected_defines(regmap)
    assert defines["MEMCRYPT_KEYID_CTRL_ENC_ALG_SHIFT"] == 8
    assert defines["MEMCRYPT_STATUS_BUSY_MASK"] == 0x100
    assert defines["MEMCRYPT_CMD_LOAD_PLATFORM_KEY"] == 0x80
    assert defines["MEMCRYPT_PERF_HOST_READS_HI_OFFSET"] == 0x204


def test_c_header_has_guard_and_generated_notice():
    text = (DOCS / "memcrypt_regs.h").read_text()
    assert text.startswith("/*\n")
    assert "Generated by `memcrypt regmap`" in text and "Do not edit" in text
    assert "#ifndef MEMCRYPT_REGS_H\n#define MEMCRYPT_REGS_H\n" in text
    assert text.endswith("#endif /* MEMCRYPT_REGS_H */\n")


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
def test_c_header_compiles_and_the_compiler_agrees(tmp_path):
    header = DOCS / "memcrypt_regs.h"
    regmap = register_map(MemcryptConfig())
    checks = "\n".join(
        f"_Static_assert({name} == {value}ull, \"{name}\");"
        for name, value in expected_defines(regmap).items())
    source = tmp_path / "check.c"
    source.write_text(f"#include \"{header}\"\n#include \"{header}\"\n{checks}\n"
                      "int memcrypt_check(void);\n")
    for std, path in (("c99", header), ("c11", source)):
        result = subprocess.run(["gcc", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
                                 f"-std={std}", "-x", "c", str(path)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_clashing_c_names_are_refused():
    regmap = RegisterMap(MemcryptConfig(), [_reg("A", 0x0, Field("B_C", 0, 1, "")),
                                            _reg("A_B", 0x4, Field("C", 0, 1, ""))])
    with pytest.raises(ValueError, match="MEMCRYPT_A_B_C_SHIFT"):
        c_header(regmap)


# -- JSON -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CONFIGS)
def test_json_round_trips(name):
    regmap = register_map(CONFIGS[name])
    text = to_json(regmap)
    back = from_json(text)
    assert back.config == regmap.config
    assert back.registers == regmap.registers
    assert to_json(back) == text


def test_committed_json_holds_plain_integers():
    data = json.loads((DOCS / "memcrypt_regs.json").read_text())
    assert data["id"] == ID_VALUE and type(data["id"]) is int
    assert data["config"]["name"] == "default"
    assert data["config"]["num_keys"] == 64
    assert data["enums"]["Status"]["DEVICE_BUSY"] == Status.DEVICE_BUSY
    assert [e["name"] for e in data["perf_events"]] == [name for name, _ in PERF_EVENTS]
    for register in data["registers"]:
        assert type(register["offset"]) is int and type(register["reset"]) is int
        for field in register["fields"]:
            assert all(type(field[key]) is int for key in ("lsb", "width", "mask", "reset"))
    status = next(r for r in data["registers"] if r["name"] == "STATUS")
    assert status["reset"] == 0x105 and status["access"] == "ro"


# -- Markdown ---------------------------------------------------------------------------------

def test_markdown_documents_every_register_and_value():
    regmap = register_map(MemcryptConfig())
    text = markdown(regmap)
    assert text.startswith("# memcrypt control registers\n")
    for register in regmap:
        assert f"| 0x{register.offset:03X} | [{register.name}](#" in text
        assert f"\n### {register.name} (0x{register.offset:03X})\n" in text
        for field in register.fields:
            assert f"| {field.name} |" in text
    for _title, enum_class, _prefix, _table in regmap_docs.ENUMS:
        for member in enum_class.__members__.values():
            assert f"`{member.name}`" in text
    for needle in ("AXI4-Lite", "SLVERR", "ignored", "write-only", "MKTME_KEY_PROGRAM",
                   "| 0x024 | [KEYID_CTRL](#keyid_ctrl-0x024) | RW | 0x00000000 |",
                   "| 10 | IGNORED | 0x0 |", "| 31:11 | — | 0 | reserved |",
                   "| `num_keys` | 64 |", "programmable KeyIDs | 1 to 63"):
        assert needle in text, needle
    steps = [text.index(step) for step in ("1. After reset", "2. Write the KeyID",
                                           "3. Write `KEYID_CTRL`", "4. Write the 8 words",
                                           "5. Write 1 to `DOORBELL.GO`", "6. Poll `STATUS`",
                                           "7. Read `STATUS.CODE`")]
    assert steps == sorted(steps)


def test_every_enum_member_needs_a_description(monkeypatch):
    monkeypatch.delitem(regmap_docs._STATUS, Status.DEVICE_BUSY)
    with pytest.raises(ValueError, match="no description for <Status.DEVICE_BUSY"):
        render(MemcryptConfig())
    monkeypatch.undo()
    monkeypatch.delitem(regmap_docs._COMMAND, Command.NO_ENCRYPT)
    with pytest.raises(ValueError, match="NO_ENCRYPT"):
        c_header(register_map(MemcryptConfig()))


# -- the command ------------------------------------------------------------------------------

def test_cli_check_passes_on_the_committed_docs(capsys):
    assert main(["regmap", "--check", "--out", str(DOCS)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_cli_writes_and_prints_paths(tmp_path, capsys):
    out = tmp_path / "new" / "docs"
    assert main(["regmap", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"wrote {out / name}" for name in FILENAMES.values()]
    assert stale_files(MemcryptConfig(), out) == []
    for name in FILENAMES.values():
        assert (out / name).read_bytes() == (DOCS / name).read_bytes()


def test_cli_default_out_is_docs_in_the_current_directory(tmp_path):
    result = run_cli("regmap", "--config", "small", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "docs" / "registers.md").is_file()
    assert "configuration **small**" in (tmp_path / "docs" / "registers.md").read_text()
    assert run_cli("regmap", "--check", "--config", "small", cwd=tmp_path).returncode == 0


def test_cli_check_names_stale_and_missing_files(tmp_path):
    copy = tmp_path / "docs"
    shutil.copytree(DOCS, copy)
    page = copy / "registers.md"
    page.write_text(page.read_text().replace("AXI4-Lite", "AXI4-Lyte", 1))
    (copy / "memcrypt_regs.json").unlink()
    result = run_cli("regmap", "--check", "--out", str(copy))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(page) in lines[0] and str(copy / "memcrypt_regs.json") in lines[0]
    assert "memcrypt_regs.h" not in lines[0]
    assert page.read_text().count("AXI4-Lyte") == 1, "--check must not write"
    # Another configuration's documents are stale against the default build.
    other = tmp_path / "small"
    write_regmap(PRESETS["small"], other)
    assert main(["regmap", "--check", "--out", str(other)]) == 1


def test_cli_bad_preset_is_one_line_exit_2():
    result = run_cli("regmap", "--config", "huge", "--out", "/nonexistent/never")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("memcrypt: error: Unknown configuration 'huge'; presets: ")
    assert "small" in lines[0] and "Traceback" not in result.stderr


def test_cli_help_explains_regmap():
    result = run_cli("regmap", "--help")
    assert result.returncode == 0
    assert "usage: memcrypt regmap" in result.stdout
    for option in ("--config", "--out", "--check"):
        assert option in result.stdout


# -- structure beyond the bits ------------------------------------------------------------------

def test_enumerated_fields_have_their_enumeration_as_shape():
    regmap = register_map(MemcryptConfig())
    for (register, field), enum_class in FIELD_ENUMS.items():
        width = regmap[register].field(field).width
        assert Shape.cast(enum_class).width == width, (register, field)
        assert all(0 <= member.value < 1 << width for member in enum_class)
        assert issubclass(enum_class, int)      # Python integers for the driver and docs


def test_key_field_and_counter_registers_say_where_they_sit():
    regmap = register_map(MemcryptConfig())
    key_words = {(r.key_word.field, r.key_word.word) for r in regmap if r.key_word}
    assert key_words == {(field, word) for field in (1, 2) for word in range(KEY_FIELD_WORDS)}
    assert all(r.access == Access.WO for r in regmap if r.key_word)
    counters = {(r.counter.event, r.counter.high): r.name for r in regmap if r.counter}
    assert len(counters) == 2 * len(PERF_EVENTS)
    assert counters[("host_reads", True)] == "PERF_HOST_READS_HI"


def test_registers_and_fault_kinds_of_absent_blocks_are_reserved():
    regmap = register_map(MemcryptConfig())
    for register in regmap:
        event = register.counter.event if register.counter else None
        expected = (Block.CACHE if register.name.startswith("FLUSH_")
                    else RESERVED_EVENTS.get(event, NO_BLOCKS))
        assert register.reserved_for == expected, register.name
    assert regmap["PERF_DMA_READS_LO"].reserved_for == Block.DMA_PORT
    assert regmap["PERF_HOST_READS_LO"].reserved_for == NO_BLOCKS
    assert regmap["PERF_CACHE_HITS_LO"].reserved_for == NO_BLOCKS
    assert set(RESERVED_FAULT_KINDS) == {FaultKind.DMA_MASK}
    texts = render(MemcryptConfig())
    assert "**Reserved for the DMA port**" in texts["registers.md"]
    assert "**Reserved for the key-tagged cache**" in texts["registers.md"]
    defines = parse_defines(texts["memcrypt_regs.h"])
    assert defines["MEMCRYPT_PERF_DMA_WRITES_LO_RESERVED_FOR"] == Block.DMA_PORT
    assert defines["MEMCRYPT_FLUSH_CTRL_RESERVED_FOR"] == Block.CACHE
    assert defines["MEMCRYPT_FAULT_KIND_DMA_MASK_RESERVED_FOR"] == Block.DMA_PORT
    assert "MEMCRYPT_PERF_CACHE_HITS_LO_RESERVED_FOR" not in defines
    assert "MEMCRYPT_PERF_LINES_ENCRYPTED_LO_RESERVED_FOR" not in defines
    data = json.loads(texts["memcrypt_regs.json"])
    assert data["reserved_fault_kinds"] == {"DMA_MASK": Block.DMA_PORT}
    lines = next(r for r in data["registers"] if r["name"] == "PERF_LINES_ENCRYPTED_HI")
    assert lines["reserved_for"] == NO_BLOCKS


def test_cap_blocks_reads_the_blocks_of_the_build():
    assert register_map(MemcryptConfig())["CAP_BLOCKS"].reset == 0
    both = Block.CACHE | Block.ENGINE
    assert register_map(MemcryptConfig(), both)["CAP_BLOCKS"].field("BLOCKS").reset == both
    with pytest.raises(TypeError, match="blocks must be a Block flag, not 3"):
        register_map(MemcryptConfig(), 3)
