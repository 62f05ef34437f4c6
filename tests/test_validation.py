"""The shared checks: integers with operator.index semantics, names, the torch-free split."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from mibounds import validation
from mibounds.estimation import MIEstimator
from mibounds.estimation.names import check_bound, check_critic
from mibounds.estimation.settings import make_settings
from mibounds.experiments.staircase import StaircaseConfig
from mibounds.tasks import make


@pytest.mark.parametrize("value", [20, np.int64(20), np.int32(20), torch.tensor(20)])
def test_check_int_accepts_every_integer_type(value) -> None:
    assert validation.check_int(value, "steps", minimum=1) == 20
    assert type(validation.check_int(value, "steps", minimum=1)) is int


@pytest.mark.parametrize("value", [2.5, True, "3", None])
def test_check_int_refuses_non_integers_as_type_and_value_errors(value) -> None:
    with pytest.raises(TypeError, match="steps must be an integer >= 1"):
        validation.check_int(value, "steps", minimum=1)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        validation.check_int(value, "steps", minimum=1)


def test_check_int_message_names_the_reason_and_the_fix() -> None:
    with pytest.raises(ValueError, match=r"^k must be a whole number >= 2 \(negatives\), got 1; pass more$"):
        validation.check_int(np.int64(1), "k", minimum=2, kind="a whole number", why="negatives", hint="pass more")


def test_numpy_integers_are_accepted_wherever_an_integer_is_asked_for() -> None:
    config = StaircaseConfig(steps_per_level=np.int64(20), batch_size=np.int64(8), window=np.int64(5))
    assert (config.steps_per_level, config.batch_size, config.window) == (20, 8, 5)
    assert make_settings(MIEstimator(max_steps=np.int64(20)).get_params()).max_steps == 20
    assert make("gaussian", dim=np.int64(3), mi=1.0).dim_x == 3


def test_one_check_of_bound_and_critic_names() -> None:
    assert check_bound("nwj").name == "nwj"
    with pytest.raises(ValueError, match=r"unknown bound 'infonse'\. Did you mean 'infonce'\?"):
        check_bound("infonse")
    with pytest.raises(ValueError, match="bound 'club' cannot train a critic from samples"):
        check_bound("club")
    check_critic("separable")
    check_critic("none", also=["none"])
    with pytest.raises(
        ValueError, match=r"unknown critic 'none'.*Valid critics: bilinear, concat, mixture, separable\."
    ):
        check_critic("none")


@pytest.mark.processes
def test_the_torch_free_checks_do_not_import_torch() -> None:
    code = (
        "import sys; from mibounds.validation import check_int, unknown_name_error, MIBoundsWarning; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_check_bound_accepts_a_label_and_refuses_a_bad_parameter() -> None:
    assert check_bound("smile:5").name == "smile"
    with pytest.raises(ValueError, match="has no parameter"):
        check_bound("nwj:3")


def test_the_estimator_takes_a_bound_label_and_refuses_a_parameter_given_twice() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    y = x + rng.normal(size=(300, 2))
    fitted = MIEstimator(bound="smile:1", critic="separable", max_steps=5, random_state=0).fit(x, y)
    assert fitted.result_.bound == "smile"
    assert fitted.model_.bounds[0].params == {"clip": 1.0}
    with pytest.raises(ValueError, match="also given as a keyword"):
        MIEstimator(bound="smile:1", bound_kwargs={"clip": 5.0}, max_steps=5).fit(x, y)


def test_the_finite_scan_is_skipped_only_inside_its_block() -> None:
    from mibounds.validation import NonFiniteScoresWarning
    from mibounds.validation.tensors import finite_scan_skipped, warn_if_not_finite

    bad = torch.tensor([1.0, float("nan")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with finite_scan_skipped():
            warn_if_not_finite(bad, "scores")
    with pytest.raises(RuntimeError), finite_scan_skipped():
        raise RuntimeError("left by an exception")
    with pytest.warns(NonFiniteScoresWarning, match="1 NaN or infinite"):
        warn_if_not_finite(bad, "scores")
