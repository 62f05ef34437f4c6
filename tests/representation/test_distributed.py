"""Distributed negatives: 2 gloo processes on CPU must reproduce one process on the whole batch.

Gradient convention (see mibounds.representation.distributed): the gradient reaching a process's
inputs is world_size times the single-process gradient, so that DDP's average over processes
gives the single-process parameter gradient exactly.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mibounds.representation.distributed import all_gather_with_grad, is_distributed, rank, world_size

WORKER = Path(__file__).with_name("_gloo_worker.py")
WORLD, BATCH, SIZES = 2, 4, (3, 5)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], dict]:
    out = tmp_path_factory.mktemp("gloo")
    proc = subprocess.run([sys.executable, str(WORKER), str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    return ranks, torch.load(out / "single.pt", weights_only=True)


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_fallback_without_process_group() -> None:
    t = torch.randn(3, 2, requires_grad=True)
    gathered = all_gather_with_grad(t)
    assert gathered.tensor is t and gathered.offset == 0
    assert (is_distributed(), world_size(), rank()) == (False, 1, 0)
    with pytest.raises(ValueError, match="batch dimension"):
        all_gather_with_grad(torch.tensor(1.0))


@pytest.mark.processes  # the runs fixture starts 2 gloo worker processes
@pytest.mark.parametrize("step", [0, 1])
def test_infonce_loss_and_input_gradients_match_one_process(runs, step: int) -> None:
    ranks, single = runs
    # The loss is an average over columns: its mean over processes is the global loss.
    close(torch.stack([r[f"infonce_loss_{step}"] for r in ranks]).mean(), single[f"infonce_loss_{step}"])
    close(torch.stack([r[f"infonce_mi_{step}"] for r in ranks]).mean(), single[f"infonce_mi_{step}"])
    for r, out in enumerate(ranks):
        assert out[f"infonce_k_{step}"] == single[f"infonce_k_{step}"]  # every process sees all negatives
        rows = slice(r * BATCH, (r + 1) * BATCH)
        close(out[f"infonce_grad_x_{step}"] / WORLD, single[f"infonce_grad_x_{step}"][rows])
        close(out[f"infonce_grad_y_{step}"] / WORLD, single[f"infonce_grad_y_{step}"][rows])
    # The temperature is local to each process: the mean of its gradients (what DDP applies).
    close(torch.stack([r[f"infonce_grad_log_t_{step}"] for r in ranks]).mean(), single[f"infonce_grad_log_t_{step}"])


@pytest.mark.processes  # the runs fixture starts 2 gloo worker processes
@pytest.mark.parametrize("step", [0, 1])
def test_chunked_infonce_with_gathered_candidates_and_queue_matches_one_process(runs, step: int) -> None:
    ranks, single = runs
    for out in (*ranks, single):  # blocks give the materialized values on every process
        close(out[f"chunked_loss_{step}"], out[f"infonce_loss_{step}"])
        close(out[f"chunked_grad_log_t_{step}"], out[f"infonce_grad_log_t_{step}"])
    for r, out in enumerate(ranks):
        rows = slice(r * BATCH, (r + 1) * BATCH)
        close(out[f"chunked_grad_x_{step}"] / WORLD, single[f"infonce_grad_x_{step}"][rows])
        close(out[f"chunked_grad_y_{step}"] / WORLD, single[f"infonce_grad_y_{step}"][rows])


@pytest.mark.processes  # the runs fixture starts 2 gloo worker processes
def test_queue_is_the_same_on_every_process(runs) -> None:
    ranks, single = runs
    for out in ranks:
        close(out["queue_x"], single["queue_x"])


@pytest.mark.processes  # the runs fixture starts 2 gloo worker processes
def test_dv_on_the_gathered_matrix_matches_one_process(runs) -> None:
    ranks, single = runs
    for r, out in enumerate(ranks):
        close(out["dv_loss"], single["dv_loss"])  # every process computes the global value
        rows = slice(r * BATCH, (r + 1) * BATCH)
        close(out["dv_grad_x"] / WORLD, single["dv_grad_x"][rows])
        close(out["dv_grad_y"] / WORLD, single["dv_grad_y"][rows])


@pytest.mark.processes  # the runs fixture starts 2 gloo worker processes
def test_ddp_parameter_gradients_equal_one_process(runs) -> None:
    ranks, single = runs
    for out in ranks:
        for got, want in zip(out["ddp_grads"], single["ddp_grads"], strict=True):
            close(got, want)


@pytest.mark.processes  # the runs fixture starts 2 gloo worker processes
def test_gather_of_unequal_batches(runs) -> None:
    ranks, single = runs
    for r, out in enumerate(ranks):
        close(out["ragged_gathered"], single["ragged_gathered"])
        assert out["ragged_offset"] == sum(SIZES[:r])
        rows = slice(sum(SIZES[:r]), sum(SIZES[: r + 1]))
        # The loss (the same on every process) depends on all rows: summed over 2 processes.
        close(out["ragged_grad"], WORLD * single["ragged_grad"][rows])


@pytest.mark.processes  # the runs fixture starts 2 gloo worker processes
def test_naive_gather_gradient_is_wrong(runs) -> None:
    """Without the all-reduce in backward the gradient misses other processes' terms."""
    ranks, single = runs
    for r, out in enumerate(ranks):
        rows = slice(r * BATCH, (r + 1) * BATCH)
        close(out["dot_grad_x"] / WORLD, single["dot_grad_x"][rows])
        assert not torch.allclose(out["naive_grad_x"] / WORLD, single["dot_grad_x"][rows], rtol=1e-3)
