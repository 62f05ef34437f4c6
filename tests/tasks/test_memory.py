"""Tasks and samples larger than the machine are refused before anything is allocated."""

from __future__ import annotations

import pytest

from mibounds import tasks, validation


def test_a_task_too_large_for_memory_is_refused_by_name():
    with pytest.raises(
        ValueError, match=r"a task of 100000 \+ 100000 = 200000 dimensions .* needs [\d.]+ GiB, more than"
    ):
        tasks.make("gaussian-d100000-mi2")
    with pytest.raises(ValueError, match="pass smaller dimensions"):
        tasks.MultivariateNormal.sparse(dim_x=300_000, dim_y=300_000, n_interacting=1)


def test_a_sample_too_large_for_memory_is_refused_by_size():
    task = tasks.make("gaussian-d20-mi4")
    with pytest.raises(
        ValueError, match=r"sampling 1,000,000,000,000 pairs .* more than this machine's .*; ask for fewer"
    ):
        task.sample(10**12, seed=0)


def test_check_allocation_names_both_sizes(monkeypatch):
    monkeypatch.setattr(validation.values, "physical_memory", lambda: 2**30)
    with pytest.raises(
        ValueError, match="an array needs 2.0 GiB, more than this machine's 1.0 GiB of memory; shrink it"
    ):
        validation.check_allocation(2**31, "an array", "shrink it")
    validation.check_allocation(2**29, "an array", "shrink it")
