"""EstimatorSettings: each option declared once, and every face (function, class, command line) built from it."""

from __future__ import annotations

import argparse
import inspect

import numpy as np
import pytest
import torch

import mibounds
from mibounds.cli._options import add_estimation_options, estimation_kwargs
from mibounds.estimation import MIEstimator, conditional_estimate, independence_test, pipeline, rank_features
from mibounds.estimation.member_groups import default_groups
from mibounds.estimation.settings import API_ONLY, EstimatorSettings, make_settings

from .conftest import FAST


def _keywords(function) -> dict[str, object]:
    parameters = inspect.signature(function).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


@pytest.mark.parametrize("face", [mibounds.estimate, conditional_estimate, MIEstimator])
def test_every_face_shows_every_option_with_its_default(face):
    assert _keywords(face) == EstimatorSettings.defaults()


def test_get_params_round_trips_and_equals_the_settings():
    estimator = MIEstimator(max_steps=7, bound="infonce")
    assert list(estimator.get_params()) == EstimatorSettings.names()
    assert make_settings(estimator.get_params()) == EstimatorSettings(max_steps=7, bound="infonce")
    assert repr(estimator) == "MIEstimator(bound='infonce', max_steps=7)"


@pytest.mark.parametrize(
    "call",
    [
        lambda x: mibounds.estimate(x, x, max_stepz=3),
        lambda x: MIEstimator(max_stepz=3),
        lambda x: conditional_estimate(x, x, x, max_stepz=3),
        lambda x: independence_test(x, x, max_stepz=3),
        lambda x: rank_features(x, x[:, 0], max_stepz=3),
    ],
)
def test_an_unknown_option_names_the_closest_one(call):
    with pytest.raises(TypeError, match="unknown estimator option 'max_stepz'. Did you mean 'max_steps'?"):
        call(np.zeros((100, 2)))


def test_every_option_has_a_flag_or_a_reason_not_to():
    flags = EstimatorSettings.flags()
    assert set(flags) | set(API_ONLY) == set(EstimatorSettings.names())
    assert not set(flags) & set(API_ONLY)
    assert len({flag.name for flag in flags.values()}) == len(flags)


def _parsed(*words: str) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    add_estimation_options(parser)
    return estimation_kwargs(parser.parse_args(list(words)))


def test_the_command_line_defaults_are_the_library_defaults():
    options = _parsed("--no-progress")
    assert make_settings(options) == EstimatorSettings(progress=False)


def test_flags_map_to_options():
    options = _parsed(
        "--critic", "none", "--standardize", "zscore", "--no-gaussian", "--critic", "concat",
        "--weight-decay", "0.01", "--eval-every", "50", "--seed", "3", "--threads", "2",
    )  # fmt: skip
    assert options["critic"] == "concat" and options["standardize"] == "zscore" and options["gaussian"] is False
    assert (options["weight_decay"], options["eval_every"], options["random_state"], options["threads"]) == (
        0.01,
        50,
        3,
        2,
    )
    assert _parsed("--critic", "none", "--standardize", "none")["critic"] is None
    assert _parsed("--standardize", "none")["standardize"] is False


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"num_folds": 2}, ValueError, "num_folds"),
        ({"batch_size": 1}, ValueError, "a bound needs negatives"),
        ({"weight_decay": -1.0}, ValueError, "weight_decay must be a finite number >= 0"),
        ({"gaussian": "yes"}, TypeError, "gaussian must be True or False"),
        ({"critic": None, "gaussian": False}, ValueError, "critic=None leaves nothing to estimate with"),
        ({"discrete": "maybe"}, ValueError, "discrete must be one of 'auto', 'none', 'x', 'y', 'both'"),
        ({"random_state": -1}, ValueError, "random_state must be None or a whole number from 0 to 9223372036854775807"),
        ({"threads": 0}, ValueError, "threads"),
        ({"critic_kwargs": [1]}, TypeError, "critic_kwargs must be a dict"),
        ({"device": "meta"}, ValueError, "device 'meta' cannot hold the data to train on; use 'auto', 'cpu' or 'cuda'"),
        ({"device": "quantum"}, ValueError, "unknown device 'quantum'"),
    ],
)
def test_bad_options_are_refused_when_the_settings_are_made(options, error, message):
    with pytest.raises(error, match=message):
        EstimatorSettings(**options)


def test_the_caller_s_torch_threads_are_left_as_found(pair):
    x, y = pair
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        result = mibounds.estimate(x, y, **FAST)
        assert torch.get_num_threads() == 2 and result.threads == default_groups(5)
        assert mibounds.estimate(x, y, threads=1, **FAST).threads == 1
        assert mibounds.estimate(x, y, threads=10, **FAST).threads == 10  # 5 groups of 2 torch threads
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_estimate_runs_the_stages_in_order(pair, monkeypatch):
    calls = []
    for stage in ("validate", "prepare", "fit", "evaluate", "diagnose", "assemble"):
        original = getattr(pipeline, stage)

        def recorded(*args, _stage=stage, _original=original, **kwargs):
            calls.append(_stage)
            return _original(*args, **kwargs)

        monkeypatch.setattr(pipeline, stage, recorded)
    mibounds.estimate(*pair, **FAST)
    assert calls == ["validate", "prepare", "fit", "evaluate", "diagnose", "assemble"]
