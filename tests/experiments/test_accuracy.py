"""The accuracy suite: its tasks, one real cell, peers' rows in the same file, the report."""

from __future__ import annotations

import socket

from mibounds import tasks
from mibounds.cli import main
from mibounds.experiments import accuracy
from mibounds.experiments.sweep.grid import Cell
from mibounds.experiments.sweep.store import ResultStore


def test_suite_spans_the_range_and_no_task_is_undone_by_normal_scores():
    ids = [task for task, _ in accuracy.SUITE]
    assert {f"gaussian-d20-mi{i:g}" for i in (0, 0.5, 1, 2, 4, 6, 8, 10)} <= set(ids)
    assert ("gaussian-d5-mi1", 1_000) in accuracy.SUITE and ("gaussian-d5-mi1", 50_000) in accuracy.SUITE
    transformed = 0
    for task_id in ids:
        task = tasks.make(task_id)
        assert task.name == task_id
        if isinstance(task, tasks.Transformed):
            # The outermost map must mix coordinates: an elementwise one is undone exactly by the
            # estimator's per-column normal scores, leaving the base task.
            transformed += 1
            for side in (task.x_map, task.y_map):
                assert side is not None and not isinstance(side, tasks.ElementwiseMap), task_id
    assert transformed >= 4
    assert len(accuracy.accuracy_cells()) == len(accuracy.SUITE) * len(accuracy.SEEDS)


def test_hard_suite_holds_the_harder_families_at_their_levels():
    assert len(set(accuracy.HARD_SUITE)) == len(accuracy.HARD_SUITE)
    assert {n for _, n in accuracy.HARD_SUITE} == {10_000}
    built = {task_id: tasks.make(task_id) for task_id, _ in accuracy.HARD_SUITE}
    assert all(task.name == task_id for task_id, task in built.items())
    levels = {task_id: task.mutual_information for task_id, task in built.items()}
    mixtures = sorted(mi for task_id, mi in levels.items() if task_id.startswith("sign-mixture"))
    assert len(mixtures) == 2 and abs(mixtures[0] - 2) < 0.1 and abs(mixtures[1] - 4) < 0.1
    rotated = [t for t in built.values() if isinstance(t, tasks.Transformed) and isinstance(t.x_map, tasks.Rotation)]
    assert sorted(t.mutual_information for t in rotated) == [4.0, 8.0] and all(t.dim_x >= 10 for t in rotated)
    heavy = [t for t in built.values() if isinstance(t, tasks.StudentT)]
    assert heavy and all(t.dof <= 3 and t.mutual_information >= 4 for t in heavy)
    embedded = [t for t in built.values() if isinstance(t, tasks.Embedded)]
    assert sorted(t.dim_x for t in embedded) == [100, 1000] and all(t.mutual_information == 4 for t in embedded)
    assert {f"spiral-v1(gaussian-d5-mi{level})" for level in (1, 2, 4)} <= set(levels)
    assert any(isinstance(t, tasks.FloatLabels) for t in built.values())
    assert all(t.mutual_information_stderr < 1e-3 for t in built.values())


def test_family_drops_the_mi_level():
    assert accuracy.family("gaussian-d20-mi4") == "gaussian-d20"
    assert accuracy.family("spiral-v1(gaussian-d5-mi1)") == "spiral-v1(gaussian-d5)"
    assert accuracy.family("student-t-dx2-dy2-dof2-c0.5") == "student-t-dx2-dy2-dof2-c0.5"


def test_one_cell_then_peers_then_the_report(tmp_path):
    db = tmp_path / "accuracy.sqlite"
    summary = accuracy.run_accuracy(db, suite=[("gaussian-d2-mi0.5", 200)], seeds=[0], progress=False)
    assert summary.done == 1
    with ResultStore(db) as store:
        (row,) = store.rows(accuracy.CELL)
        assert row["estimator"] == "mibounds" and row["true_mi"] == 0.5 and "lower_bound" in row
        assert row["covered"] == (row["ci_low"] <= 0.5 <= row["ci_high"])
        for name, value in (("torch-mist:mine", 0.7), ("torch-mist:mine-heldout", 0.2), ("bmi:cca", 0.49)):
            store.record(
                accuracy.PEERS,
                Cell.from_params({"task": "gaussian-d2-mi0.5", "n": 200, "seed": 0, "estimator": name}),
                {
                    "status": "done",
                    "result": {"estimate": value, "true_mi": 0.5},
                    "seconds": 1.0,
                    "host": socket.gethostname(),
                },
            )
    files = accuracy.write_accuracy_report(db, tmp_path / "report")
    text = files.markdown.read_text()
    assert "| gaussian-d2-mi0.5 | 200 | mibounds | 1 | 0.500 |" in text
    assert "| gaussian-d2-mi0.5 | 200 | torch-mist:mine | 1 | 0.500 | 0.700 | 0.200 | 0.200 | 0.200 |" in text
    # The nearest neural peer, then the nearest of those evaluated on held-out rows, then CCA.
    assert "| gaussian-d2 (n = 200) | 1 |" in text
    assert "| 0.200 | torch-mist:mine | 0.300 | torch-mist:mine-heldout | 0.010 |" in text
    assert files.csv.read_text().splitlines()[0].startswith("task,n,estimator,runs")
    assert files.figure is not None and files.figure.stat().st_size > 1000
    # The command runs nothing new on a finished suite and writes the same report.
    assert (
        main(["bench", "accuracy", "--db", str(db), "--out", str(tmp_path / "again"), "--report-only", "--no-figures"])
        == 0
    )


def test_unknown_suite_task_is_refused(tmp_path, capsys):
    assert main(["bench", "accuracy", "--db", str(tmp_path / "a.sqlite"), "--tasks", "gaussian-d20-mi3"]) == 2
    assert "unknown suite task 'gaussian-d20-mi3'" in capsys.readouterr().err
    assert not (tmp_path / "a.sqlite").exists()
