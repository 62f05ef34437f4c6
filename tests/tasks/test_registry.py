from __future__ import annotations

import math

import pytest
import torch
from task_zoo import zoo

from mibounds import tasks

FAMILIES = [
    "gaussian",
    "cubic",
    "mvn-dense",
    "mvn-sparse",
    "student-t",
    "student-t-dense",
    "sign-mixture",
    "float-labels",
    "normal-cdf",
    "half-cube",
    "asinh",
    "cube",
    "rotate",
    "spiral",
    "embed",
]


def test_names_and_descriptions() -> None:
    assert tasks.names() == FAMILIES
    for name in FAMILIES:
        line = tasks.describe(name)
        assert line and "\n" not in line and tasks.get(name).summary == line
        assert tasks.get(name).reference
    listing = tasks.describe().splitlines()
    assert [row.split()[0] for row in listing] == FAMILIES
    assert tasks.describe("Gaussian") == tasks.describe("gaussian")


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_builds_with_defaults_and_its_id_round_trips(family: str) -> None:
    task = tasks.make(family)
    assert isinstance(task, tasks.Task)
    rebuilt = tasks.make(task.name)
    assert type(rebuilt) is type(task) and rebuilt.name == task.name
    assert rebuilt.mutual_information == task.mutual_information


# Tasks built from an arbitrary matrix carry a hash in their id and cannot be rebuilt from it.
_PARSEABLE = [t for t in zoo() if "-cov" not in t.name and "-scale" not in t.name]


@pytest.mark.parametrize("task", _PARSEABLE, ids=[t.name for t in _PARSEABLE])
def test_zoo_ids_round_trip_to_the_same_distribution(task: tasks.Task) -> None:
    rebuilt = tasks.make(task.name)
    assert rebuilt.name == task.name
    assert rebuilt.mutual_information == task.mutual_information
    x, y = task.sample(5, seed=0, dtype=torch.float64)
    x2, y2 = rebuilt.sample(5, seed=0, dtype=torch.float64)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    torch.testing.assert_close(rebuilt.log_ratio(x, y), task.log_ratio(x, y), rtol=0, atol=0)


def test_make_with_parameters() -> None:
    assert tasks.make("gaussian", dim=5, mi=1.0).name == "gaussian-d5-mi1"
    assert tasks.make("cubic", mi=4.0).name == "cubic-d20-mi4-w0"
    assert tasks.make("cubic", mi=4.0, mixing_seed=None).name == "cubic-d20-mi4"
    assert tasks.make("mvn-sparse", dim_x=4, n_interacting=1).name == "mvn-sparse-dx4-dy3-k1-c0.8"
    assert tasks.make("student-t", dof=1.0).name == "student-t-dx2-dy2-dof1-c0"
    assert tasks.make("asinh", base="gaussian-d5-mi1", on="y").name == "asinh-y(gaussian-d5-mi1)"
    spiral = tasks.make("spiral", base=tasks.Gaussian(3, 1.0), speed=0.5, on="x")
    assert spiral.name == "spiral-v0.5-x(gaussian-d3-mi1)"
    assert tasks.make("asinh").name == "asinh(gaussian-d20-mi2)"
    assert tasks.make("sign-mixture", dim=4, correlation=0.5).name == "sign-mixture-d4-k2-c0.5"
    assert tasks.make("float-labels", num_classes=4).name == "float-labels-c4-d2-s0.3"
    embedded = tasks.make("embed", base="gaussian-d5-mi4", dim=1000, on="x")
    assert embedded.name == "embed-d1000-x(gaussian-d5-mi4)" and (embedded.dim_x, embedded.dim_y) == (1000, 5)
    nested = tasks.make("normal-cdf-x-asinh-y(cube-y(mvn-sparse-dx3-dy3-k2-c-0.8))")
    assert isinstance(nested.base, tasks.Transformed)
    assert nested.mutual_information == pytest.approx(-math.log(1 - 0.64), rel=1e-12)


def test_unknown_names_and_bad_parameters() -> None:
    with pytest.raises(ValueError, match=r"unknown task 'gausian'. Did you mean 'gaussian'\? Valid tasks: asinh, cube"):
        tasks.make("gausian")
    malformed = ["asinh(nonsense)", "asinh-x-(gaussian-d2-mi1)", "-y(gaussian-d2-mi1)", "gaussian-d2"]
    for bad in [*malformed, "spiral-vx(gaussian-d2-mi1)", "asinh-xasinh-y(gaussian-d2-mi1)"]:
        with pytest.raises(ValueError, match="unknown task"):
            tasks.make(bad)
    with pytest.raises(ValueError, match="unknown task"):
        tasks.get("gaussian-d20-mi2")
    with pytest.raises(ValueError, match="already fixes the parameters, but got \\['dim'\\]"):
        tasks.make("gaussian-d20-mi2", dim=3)
    with pytest.raises(ValueError, match="on must be 'x', 'y' or 'both'"):
        tasks.make("asinh", on="z")
    with pytest.raises(TypeError, match="unexpected keyword argument 'dimension'"):
        tasks.make("gaussian", dimension=3)


@pytest.mark.parametrize(
    "task_id",
    [
        *(f"spiral-v1(gaussian-d5-mi{level})" for level in (1, 2, 4)),
        *(f"rotate(half-cube(gaussian-d10-mi{level}))" for level in (4, 8)),
        "student-t-dx5-dy5-dof2-c0.9",
        "sign-mixture-d10-k2-c0.64",
        "sign-mixture-d10-k4-c-0.7",
        "float-labels-c10-d2-s0.3",
        "embed-d100(gaussian-d5-mi4)",
        "embed-d1000-y(gaussian-d5-mi4)",
        "rotate(embed-d20(asinh(gaussian-d5-mi1)))",
    ],
)
def test_ids_of_the_harder_families_round_trip(task_id: str) -> None:
    task = tasks.make(task_id)
    assert task.name == task_id
    assert tasks.make(task.name).mutual_information == task.mutual_information


def test_spiral_ids_carry_their_level() -> None:
    for level in (1, 2, 4):
        task = tasks.make(f"spiral-v1(gaussian-d5-mi{level})")
        assert isinstance(task, tasks.Transformed) and task.mutual_information == level


def test_malformed_embedding_ids_are_unknown() -> None:
    for bad in ("embed-d(gaussian-d5-mi1)", "embed-d100-z(gaussian-d5-mi1)", "embed-d100(nonsense)"):
        with pytest.raises(ValueError, match="unknown task"):
            tasks.make(bad)
    with pytest.raises(ValueError, match="dim_out must be an integer >= 6"):
        tasks.make("embed-d5(gaussian-d5-mi1)")


def test_at_mi_steps_a_family_or_an_id_through_levels() -> None:
    assert tasks.at_mi("gaussian", 4.0, dim=5).name == "gaussian-d5-mi4"
    assert tasks.at_mi("cubic", 6.0, dim=3).name == "cubic-d3-mi6-w0"
    for task_id, expected in (
        ("cubic-d20-mi2-w3", "cubic-d20-mi8-w3"),
        ("cubic-d4-mi2", "cubic-d4-mi8"),
        ("asinh(gaussian-d5-mi0.5)", "asinh(gaussian-d5-mi8)"),
        ("rotate(half-cube(gaussian-d4-mi1e-1))", "rotate(half-cube(gaussian-d4-mi8))"),
        ("embed-d12(gaussian-d3-mi1)", "embed-d12(gaussian-d3-mi8)"),
        ("spiral-v0.5-x(cubic-d3-mi1-w2)", "spiral-v0.5-x(cubic-d3-mi8-w2)"),
    ):
        task = tasks.at_mi(task_id, 8.0, dim=20)  # an id keeps its own dimensions
        assert task.name == expected and task.mutual_information == 8.0, task_id
    with pytest.raises(ValueError, match=r"task id 'student-t-dx2-dy2-dof3-c0.5' has no MI level; give an id with"):
        tasks.at_mi("student-t-dx2-dy2-dof3-c0.5", 2.0)
    with pytest.raises(ValueError, match=r"task family 'asinh' takes no MI level .* 'asinh\(gaussian-d20-mi2\)'"):
        tasks.at_mi("asinh", 2.0, dim=20)
    with pytest.raises(ValueError, match=r"unknown task 'gausian'"):
        tasks.at_mi("gausian", 2.0)
