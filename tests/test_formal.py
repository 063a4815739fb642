"""The formal specifications in ``formal/``, run with SymbiYosys through memcrypt.flow.formal.

* one test per task of ``formal.tasks()`` (the long ones are marked slow), asserting PASS
  and naming the counterexample trace otherwise;
* negative tests: deliberately broken designs must FAIL with a trace, so that a harness
  that checks nothing cannot pass for one that checks everything;
* cheap checks that the designs' formal-only code (``if platform == "formal":``) elaborates
  and that every specification, slow ones included, still finds the registers it probes;
* unit tests of the runner's table and of the ABC wrapper.
"""

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Fragment

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
    assert result.trace is not None and result.trace.is_file(), _explain(result)


def test_negative_tasks_cover_both_properties():
    blocks = {task.block for task in NEGATIVE_TASKS}
    assert {"MutantAlphaMultiplier", "DropsValid", "LosesBlocks"} <= blocks
    assert {task.engine for task in NEGATIVE_TASKS} >= {"smtbmc yices", "abc pdr"}


def test_every_task_states_its_bound():
    for task in TASKS:
        label = formal.depth_label(task)
        assert label == "unbounded" if task.unbounded else label == f"depth {task.depth}"
        assert task.mode in ("prove", "cover", "bmc")
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

    def fake_run_task(task, workdir):
        return formal.FormalResult(task=task, status=outcome.get(task.name, "FAIL"),
                                   seconds=0.5, workdir=workdir, trace=None, log_tail="")

    monkeypatch.setattr(formal, "run_task", fake_run_task)
    results = formal.run([broken.name, sound.name], workdir=tmp_path, echo=None)
    assert [r.expected for r in results] == ["FAIL", "PASS"]
    assert [r.passed for r in results] == [True, False]
    assert "FAIL (must FAIL)" in formal.format_table(results).splitlines()[2]
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
