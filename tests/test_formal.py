"""SymbiYosys proofs of the engine's formal specifications (``formal/``), from pytest.

Each task must PASS; each negative task (a deliberately broken design) must FAIL, so that
a broken harness cannot pass for a proof. Long tasks are marked slow (``--slow``).
"""

from pathlib import Path

import pytest

from memcrypt import formal


def _long(task):
    # k-induction over the whole AES pipeline (32 stages and a 64-deep FIFO) runs for more
    # than seven minutes on two cores: it belongs to `memcrypt regress`, not the default run.
    return task.slow or task.name.startswith("aes_pipeline")


def _params(tasks):
    return [pytest.param(t, id=t.name, marks=[pytest.mark.slow] if _long(t) else [])
            for t in tasks]


@pytest.mark.parametrize("task", _params(formal.tasks()))
def test_formal_task_passes(task, tmp_path: Path):
    result = formal.run_task(task, tmp_path)
    bound = "unbounded" if task.unbounded else f"depth {task.depth}"
    print(f"{task.name}: {result.status} ({task.mode}, {task.engine}, {bound}) "
          f"in {result.seconds:.1f} s")
    assert result.status == "PASS", (
        f"{task.name}: {result.status}; trace: {result.trace}\n{result.log_tail}")


@pytest.mark.parametrize("task", _params(formal.negative_tasks()))
def test_broken_design_fails(task, tmp_path: Path):
    result = formal.run_task(task, tmp_path)
    assert result.status == "FAIL", f"{task.name} should fail but gave {result.status}"


def test_every_task_states_its_bound():
    for task in formal.tasks():
        assert formal.depth_label(task) in ("unbounded", f"depth {task.depth}")
        if task.mode == "prove":
            assert task.unbounded, f"{task.name}: a prove here is meant to be unbounded"
