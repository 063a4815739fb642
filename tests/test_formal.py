"""The formal specifications in ``formal/``, run with SymbiYosys through memcrypt.flow.formal.

* one test per task of ``formal.tasks()`` (the long ones are marked slow), asserting PASS
  and naming the counterexample trace otherwise;
* negative tests: deliberately broken designs must FAIL with a trace, on the assertion
  each names, so that a harness that checks nothing cannot pass for one that checks
  everything, nor a design broken in another way for the one the task describes;
* cheap checks that the designs' formal-only code (``if platform == "formal":``) elaborates
  and that every specification, slow ones included, still finds the registers it probes;
* unit tests of the runner (assertion names, its table) and of the ABC wrapper.
"""

import dataclasses
import re

import pytest
from amaranth.asserts import AnySeq
from amaranth.back import rtlil
from amaranth.hdl import Assert, Elaboratable, Fragment, Module, Signal

from memcrypt.amaranth_private import Property
from memcrypt.flow import abc_wrapper, formal
from memcrypt.gateware.aes import AESPipeline

TASKS = formal.tasks()
NEGATIVE_TASKS = formal.negative_tasks()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("formal")


def _explain(result):
    task = result.task
    return (f"{task.name} ({task.mode}, {task.engine}, {formal.depth_label(task)}): "
            f"{result.status} after {result.seconds:.1f} s\n"
            f"counterexample trace: {result.trace}\nwork folder: {result.workdir}\n"
            f"{result.log_tail}")


@pytest.mark.parametrize("task", [
    pytest.param(task, id=task.name, marks=[pytest.mark.slow] if task.slow else [])
    for task in TASKS
])
def test_formal(task, workdir):
    result = formal.run_task(task, workdir)
    assert result.status == "PASS", _explain(result)


@pytest.mark.parametrize("task", NEGATIVE_TASKS, ids=lambda task: task.name)
def test_broken_design_fails(task, workdir):
    result = formal.run_task(task, workdir)
    assert result.status == "FAIL", _explain(result)
    assert task.breaks in result.failed, _explain(result)
    assert result.trace is not None and result.trace.is_file(), _explain(result)


class _TwoAssertions(Elaboratable):
    """``value_is_not_three`` fails (the value is free), ``value_is_narrow`` holds."""

    ports = ()

    def elaborate(self, platform):
        m = Module()
        value = Signal(4)
        m.d.comb += value.eq(AnySeq(4))
        m.d.comb += Assert(value != 3, "value_is_not_three")
        m.d.comb += Assert(value < 16, "value_is_narrow")
        return m


def _negative_task(breaks):
    return formal.FormalTask(
        name=f"two_assertions_break_{breaks}", block="_TwoAssertions", mode="bmc",
        engine="smtbmc yices", depth=1, unbounded=False, description="runner test",
        spec=_TwoAssertions, breaks=breaks)


def test_a_negative_task_must_fail_on_the_assertion_it_names(tmp_path, monkeypatch):
    """A run that fails on another assertion than the one named is reported as wrong."""
    right, wrong = _negative_task("value_is_not_three"), _negative_task("value_is_narrow")
    monkeypatch.setattr(formal, "negative_tasks", lambda: [right, wrong])
    monkeypatch.setattr(formal, "tasks", lambda: [])
    results = formal.run(workdir=tmp_path, echo=None, negative=True)
    assert [r.status for r in results] == ["FAIL", "FAIL"]
    assert [r.failed for r in results] == [("value_is_not_three",)] * 2
    assert [r.passed for r in results] == [True, False]
    rows = formal.format_table(results).splitlines()[2:]
    assert "FAIL: value_is_not_three (must FAIL)" in rows[0]
    assert "FAIL: value_is_not_three (must FAIL: value_is_narrow)" in rows[1]


def test_a_negative_task_naming_no_assertion_is_an_error(tmp_path):
    result = formal.run_task(_negative_task("value_is_four"), tmp_path)
    assert result.status == "ERROR" and not result.failed
    assert "has no assertion of that name" in result.log_tail


def test_every_negative_task_names_an_assertion_and_only_they_do():
    assert all(task.breaks for task in NEGATIVE_TASKS)
    assert not any(task.breaks for task in TASKS)
    with pytest.raises(ValueError, match="breaks must name an assertion"):
        dataclasses.replace(NEGATIVE_TASKS[0], breaks="two words")


def test_named_assertions_become_named_cells():
    text = formal.name_assertions(rtlil.convert(_TwoAssertions(), ports=[], platform="formal"))
    assert formal.assertion_names(text) == {"value_is_not_three", "value_is_narrow"}
    assert re.search(r"cell \$check \\assert:value_is_narrow$", text, re.MULTILINE)


def test_failed_assertions_skip_the_induction_counterexample():
    log = "\n".join([
        "SBY [t] summary: counterexample trace [basecase]: t/engine_0/trace.vcd",
        "SBY [t] summary:   failed assertion top.dut.\\assert:held_ok$2 at /x/spec.py:12 step 3",
        "SBY [t] summary:   failed assertion top._witness_.check_9 at /x/spec.py:40",
        "SBY [t] summary: counterexample trace [induction]: t/engine_0/trace_induct.vcd",
        "SBY [t] summary:   failed assertion top.\\assert:only_in_induction at /x/spec.py:7",
    ])
    assert formal.failed_assertions(log) == ("held_ok", "spec.py:40")


def test_negative_tasks_cover_both_properties():
    blocks = {task.block for task in NEGATIVE_TASKS}
    assert {"MutantAlphaMultiplier", "DropsValid", "LosesBlocks"} <= blocks
    assert {task.engine for task in NEGATIVE_TASKS} >= {"smtbmc yices", "abc pdr"}


def _declared_depth(task):
    """The ``depth`` the task's ``.sby`` file gives SymbiYosys, or None."""
    found = re.search(r"^depth (\d+)$", formal.sby_script(task, "top.il"), re.MULTILINE)
    return int(found[1]) if found else None


def test_every_task_states_its_bound():
    """The depth column says what SymbiYosys is given: a bounded task's label is the depth
    of its ``.sby`` file; "unbounded" only for proofs."""
    for task in TASKS + NEGATIVE_TASKS:
        label = formal.depth_label(task)
        if task.unbounded:
            assert label == "unbounded" and task.mode == "prove", task.name
        else:
            assert label.split() == ["depth", str(_declared_depth(task))], task.name
        assert task.description
    assert {task.mode for task in TASKS} >= {"prove", "cover"}
    # Every block with a proof also has covers.
    proven = {task.block for task in TASKS if task.mode == "prove" and not task.slow}
    covered = {task.block for task in TASKS if task.mode == "cover"}
    assert proven <= covered | {"AESPipeline(sbox=lut)"}, proven - covered


def _properties(fragment):
    found = []
    for statements in fragment.statements.values():
        found += [s for s in statements if isinstance(s, Property)]
    for subfragment, _, _ in fragment.subfragments:
        found += _properties(subfragment)
    return found


def test_formal_only_invariant_elaborates():
    """AESPipeline's credit invariant exists with platform="formal" and only then."""
    def properties(platform):
        core = AESPipeline(key_bits=128, direction="both", tag_width=2)
        return _properties(Fragment.get(core, platform))

    # The output FIFO brings its own formal-only properties; the core adds its invariant.
    assert len(properties("formal")) > len(properties(None)) + len(_fifo_properties())
    text = rtlil.convert(AESPipeline(key_bits=128, tag_width=2), platform="formal")
    assert "$check" in text


def _fifo_properties():
    from amaranth.lib.fifo import SyncFIFOBuffered

    return _properties(Fragment.get(SyncFIFOBuffered(width=8, depth=64), "formal"))


@pytest.mark.parametrize("task", [task for task in TASKS if task.slow],
                         ids=lambda task: task.name)
def test_slow_specs_elaborate(task):
    """Slow proofs are skipped by default; their specifications must still build."""
    assert "module \\top" in formal.emit(task)


def test_format_table():
    task = TASKS[0]
    result = formal.FormalResult(task=task, status="PASS", seconds=1.25, workdir=None,
                                 trace=None, log_tail="")
    lines = formal.format_table([result]).splitlines()
    assert lines[0].split() == ["task", "mode", "engine", "depth", "result", "seconds"]
    assert task.name in lines[2] and "PASS" in lines[2] and lines[2].endswith("1.2")
    assert formal.depth_label(task) in lines[2]


def test_a_negative_task_succeeds_by_failing(monkeypatch, tmp_path):
    """``run`` expects FAIL of a negative task, PASS of any other, and the table says so."""
    broken, sound = NEGATIVE_TASKS[0], TASKS[0]
    outcome = {broken.name: "FAIL", sound.name: "FAIL"}
    failed = {broken.name: (broken.breaks,), sound.name: ("spec.py:1",)}

    def fake_run_task(task, workdir):
        return formal.FormalResult(task=task, status=outcome.get(task.name, "FAIL"),
                                   seconds=0.5, workdir=workdir, trace=None, log_tail="",
                                   failed=failed.get(task.name, (task.breaks,)))

    monkeypatch.setattr(formal, "run_task", fake_run_task)
    results = formal.run([broken.name, sound.name], workdir=tmp_path, echo=None)
    assert [r.expected for r in results] == ["FAIL", "PASS"]
    assert [r.passed for r in results] == [True, False]
    assert f"FAIL: {broken.breaks} (must FAIL)" in formal.format_table(results).splitlines()[2]
    negative = formal.run(workdir=tmp_path, echo=None, negative=True)
    assert [r.task.name for r in negative] == [task.name for task in NEGATIVE_TASKS]


def test_abc_wrapper_drops_pdr_log_option():
    script = "read_aiger a.aig; fold; strash; pdr -v -l; write_cex -a e/trace.aiw"
    assert abc_wrapper.fix_script(script) == \
        "read_aiger a.aig; fold; strash; pdr -v; write_cex -a e/trace.aiw"
    assert abc_wrapper.witness_files(script)[0].as_posix() == "e/trace.aiw"


def test_abc_wrapper_adds_witness_header(tmp_path):
    trace = tmp_path / "trace.aiw"
    trace.write_text("000\n01\n10# DONE\n")
    assert abc_wrapper.fix_witness(trace, output=2)
    assert trace.read_text() == "1\nb2\n000\n01\n10\n.\n"
    assert not abc_wrapper.fix_witness(trace)         # already complete
    combinational = tmp_path / "comb.aiw"
    combinational.write_text("\n0110# DONE\n")       # no latches: empty first line
    assert abc_wrapper.fix_witness(combinational)
    assert combinational.read_text() == "1\nb0\n\n0110\n.\n"
