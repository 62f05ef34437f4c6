"""``mibounds bench staircase | bias-variance | critics``: the published experiments on the command line.

Each subcommand is ``_add_<name>(commands)``, which adds its parser, and ``_<name>(args)``, which
turns the parsed arguments into the experiment's configuration dataclass, runs it and writes its
files. The defaults shown by ``--help`` are read from those dataclasses
(:class:`~mibounds.experiments.staircase.StaircaseConfig`,
:class:`~mibounds.experiments.bias_variance.BiasVarianceConfig`), so they are written once.
The experiments' modules are imported when a subcommand runs or its parser is built, never when
``mibounds`` starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["SUBCOMMANDS"]


def _fmt(values: Any) -> str:
    """A default as ``--help`` shows it: ``2 4 6`` for a sequence, the value otherwise."""
    if isinstance(values, (tuple, list)):
        return " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)
    return f"{values:g}" if isinstance(values, float) else str(values)


def _print_written(written: dict[str, Path]) -> None:
    for path in written.values():
        print(f"wrote {path}")


# -- staircase ------------------------------------------------------------------------------------


def _add_staircase(commands: Any) -> None:
    from mibounds.experiments.staircase.config import DEFAULT_BOUNDS, StaircaseConfig

    d = StaircaseConfig()
    parser = commands.add_parser(
        "staircase",
        help="Poole et al. 2019's MI staircase: every bound trained through 2 -> 10 nats (figure 2)",
        description="Train one critic per bound (stacked into one network per job) on the 20-d Gaussian "
        "and its cubic version (x, (W y)^3) (or any --tasks) while the true MI steps 2, 4, 6, 8, 10 nats; "
        "write per-step estimates, "
        "per-stage bias/variance/MSE tables and one figure per task; print the wall-clock. "
        "--from DIR ... re-makes tables and figures from saved runs (merging runs of different critics).",
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        default=list(d.tasks),
        metavar="TASK",
        help="task families that take an MI level (gaussian, cubic; with d = 20) or task ids with one "
        "'-mi<nats>' that each level replaces, e.g. cubic-d20-mi2-w3 'asinh(gaussian-d20-mi2)' "
        "(default: %(default)s)",
    )
    parser.add_argument("--critics", nargs="+", default=list(d.critics), help="separable and/or concat")
    parser.add_argument(
        "--bounds",
        nargs="+",
        metavar="BOUND",
        help="bound labels, e.g. nwj smile:5 "
        f"interpolated:0.5 (default: all {len(DEFAULT_BOUNDS)} of the paper's figure)",
    )
    parser.add_argument("--levels", nargs="+", type=float, default=list(d.levels), help="MI levels (nats)")
    parser.add_argument(
        "--steps-per-level", type=int, default=d.steps_per_level, help="training steps per level (default: %(default)s)"
    )
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help="K (default: %(default)s)")
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=d.learning_rate,
        metavar="LR",
        help="Adam learning rate (default: %(default)s)",
    )
    parser.add_argument(
        "--hidden-dim", type=int, default=d.hidden_dim, help="critic hidden units (default: %(default)s)"
    )
    parser.add_argument(
        "--embed-dim", type=int, default=d.embed_dim, help="separable embedding size (default: %(default)s)"
    )
    parser.add_argument(
        "--baseline-hidden-dim",
        type=int,
        default=d.baseline_hidden_dim,
        help="baseline hidden units (default: %(default)s)",
    )
    parser.add_argument(
        "--window", type=int, default=d.window, help="last steps of a stage in the tables (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--device", help="torch device (default: cpu)")
    parser.add_argument(
        "--workers",
        type=int,
        help="worker processes, one job per (critic, task) (default: the CPU count on a CPU, 1 on a GPU)",
    )
    parser.add_argument("--threads", type=int, help="torch threads per job (default: 1 with workers)")
    parser.add_argument("--out", default="staircase", metavar="DIR", help="output folder (default: %(default)s)")
    parser.add_argument(
        "--from", nargs="+", dest="from_dirs", metavar="DIR", help="saved runs to report on instead of training"
    )
    parser.add_argument("--no-figures", action="store_true", help="tables only (no matplotlib needed)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=_staircase)


def _staircase(args: argparse.Namespace) -> int:
    """``mibounds bench staircase``: run (or reload) a staircase, write its files, print the wall-clock."""
    import torch

    from mibounds.experiments.figures import require_matplotlib
    from mibounds.experiments.staircase import (
        DEFAULT_BOUNDS,
        StaircaseConfig,
        StaircaseResult,
        merge_results,
        run_staircase,
    )

    if not args.no_figures:
        require_matplotlib("--no-figures")  # now, not after hours of training
    if args.from_dirs:
        result = merge_results([StaircaseResult.load(path) for path in args.from_dirs])
    else:
        config = StaircaseConfig(
            tasks=tuple(args.tasks),
            critics=tuple(args.critics),
            bounds=tuple(args.bounds or DEFAULT_BOUNDS),
            levels=tuple(args.levels),
            steps_per_level=args.steps_per_level,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            hidden_dim=args.hidden_dim,
            embed_dim=args.embed_dim,
            baseline_hidden_dim=args.baseline_hidden_dim,
            window=args.window,
            seed=args.seed,
            device=args.device,
        )
        workers = args.workers
        if workers is None:
            on_cpu = torch.device(config.device or "cpu").type == "cpu"
            jobs = len(config.critics) * len(config.tasks) + 1
            workers = min(os.cpu_count() or 1, jobs) if on_cpu else 1
        result = run_staircase(
            config,
            workers=workers,
            threads=args.threads,
            progress=not args.no_progress,
            log=print,
            checkpoint_dir=Path(args.out) / "checkpoints",
        )
    written = result.save(args.out, figures=not args.no_figures)
    print(result.timing_table().to_markdown(digits=1))
    _print_written(written)
    print(f"staircase wall-clock: {result.wall_seconds:.1f} s")
    return 0


# -- bias-variance ----------------------------------------------------------------------------------


def _add_bias_variance(commands: Any) -> None:
    from mibounds.experiments.bias_variance import BiasVarianceConfig

    d = BiasVarianceConfig()
    parser = commands.add_parser(
        "bias-variance",
        help="bias, variance and MSE of every bound with its optimal critic (Poole et al. 2019, figure 3)",
        description="No training: each bound gets the critic that makes it tight; many independent batches "
        "per point; sweeps over the true MI, the batch size K and alpha of I_alpha.",
    )
    parser.add_argument("--task", default=d.task, help="task family (default: %(default)s)")
    parser.add_argument("--dim", type=int, default=d.dim)
    parser.add_argument("--bounds", nargs="+", metavar="BOUND", help="bound labels (default: all)")
    parser.add_argument(
        "--mi", nargs="+", type=float, default=list(d.mi_grid), help=f"MI grid (nats) (default: {_fmt(d.mi_grid)})"
    )
    parser.add_argument(
        "--batch-size", type=int, default=d.batch_size, help="K of the MI and alpha sweeps (default: %(default)s)"
    )
    parser.add_argument(
        "--batch-sizes",
        nargs="+",
        type=int,
        default=list(d.k_grid),
        help=f"K grid of the K sweep (default: {_fmt(d.k_grid)})",
    )
    parser.add_argument("--fixed-mi", type=float, default=d.fixed_mi, help="MI of the K sweep (default: %(default)s)")
    parser.add_argument(
        "--alphas", nargs="*", type=float, default=list(d.alphas), help=f"alpha grid (default: {_fmt(d.alphas)})"
    )
    parser.add_argument(
        "--alpha-mi",
        nargs="+",
        type=float,
        default=list(d.alpha_mi),
        help=f"MI levels of the alpha sweep (default: {_fmt(d.alpha_mi)})",
    )
    parser.add_argument("--repeats", type=int, default=d.repeats, help="batches per point (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--out", default="bias_variance", metavar="DIR", help="output folder (default: %(default)s)")
    parser.add_argument("--from", dest="from_dir", metavar="DIR", help="a saved run to re-make tables and figures from")
    parser.add_argument("--no-figures", action="store_true", help="tables only (no matplotlib needed)")
    parser.set_defaults(func=_bias_variance)


def _bias_variance(args: argparse.Namespace) -> int:
    """``mibounds bench bias-variance``: run (or reload) the sweeps, write tables and figures."""
    from mibounds.experiments.bias_variance import (
        DEFAULT_BOUNDS,
        BiasVarianceConfig,
        load_result,
        run_bias_variance,
    )
    from mibounds.experiments.figures import require_matplotlib

    if not args.no_figures:
        require_matplotlib("--no-figures")  # before the batches, not after them
    if args.from_dir:
        result = load_result(args.from_dir)
    else:
        config = BiasVarianceConfig(
            task=args.task,
            dim=args.dim,
            bounds=tuple(args.bounds or DEFAULT_BOUNDS),
            mi_grid=tuple(args.mi),
            batch_size=args.batch_size,
            k_grid=tuple(args.batch_sizes),
            fixed_mi=args.fixed_mi,
            alphas=tuple(args.alphas),
            alpha_mi=tuple(args.alpha_mi),
            repeats=args.repeats,
            seed=args.seed,
        )
        result = run_bias_variance(config, log=print)
    written = result.save(args.out, figures=not args.no_figures)
    print(result.markdown())
    _print_written(written)
    return 0


# -- critic trade-off -------------------------------------------------------------------------------


def _add_critics(commands: Any) -> None:
    from mibounds.experiments.critic_tradeoff import DEFAULT_CONFIG, TIMING_STEPS

    parser = commands.add_parser(
        "critics",
        help="separable vs concat critic: time per training step and error, side by side",
        description="Time one training step of each critic (alone, and stacked with every bound), and "
        "compare their per-stage errors on the staircase: from saved runs (--from) or a shorter run.",
    )
    parser.add_argument(
        "--from",
        nargs="+",
        dest="from_dirs",
        metavar="DIR",
        help="saved staircase runs with both critics (e.g. the output of mibounds bench staircase)",
    )
    parser.add_argument("--tasks", nargs="+", default=list(DEFAULT_CONFIG.tasks), help="tasks of the shorter run")
    parser.add_argument(
        "--steps-per-level",
        type=int,
        default=DEFAULT_CONFIG.steps_per_level,
        help="steps per level of the shorter run (default: %(default)s)",
    )
    parser.add_argument(
        "--timing-steps", type=int, default=TIMING_STEPS, help="steps timed per critic (default: %(default)s)"
    )
    parser.add_argument("--workers", type=int, help="worker processes of the shorter run (default: CPU count)")
    parser.add_argument("--seed", type=int, default=DEFAULT_CONFIG.seed)
    parser.add_argument("--out", default="critics", metavar="DIR", help="output folder (default: %(default)s)")
    parser.set_defaults(func=_critics)


def _critics(args: argparse.Namespace) -> int:
    """``mibounds bench critics``: compare the critics of saved runs, or of a shorter run made here."""
    from mibounds.experiments.critic_tradeoff import (
        DEFAULT_CONFIG,
        critic_tradeoff,
        run_critic_tradeoff,
    )
    from mibounds.experiments.staircase import StaircaseResult, merge_results

    if args.from_dirs:
        result = critic_tradeoff(
            merge_results([StaircaseResult.load(p) for p in args.from_dirs]), timing_steps=args.timing_steps
        )
    else:
        config = dataclasses.replace(
            DEFAULT_CONFIG,
            tasks=tuple(args.tasks),
            steps_per_level=args.steps_per_level,
            seed=args.seed,
            window=min(DEFAULT_CONFIG.window, args.steps_per_level),
        )
        workers = args.workers or min(os.cpu_count() or 1, 2 * len(config.tasks) + 1)
        result = run_critic_tradeoff(config, workers=workers, timing_steps=args.timing_steps, log=print)
    written = result.save(args.out)
    print(result.markdown())
    _print_written(written)
    return 0


#: The experiment subcommands of ``mibounds bench``, one function each.
SUBCOMMANDS: list[Callable[[Any], None]] = [_add_staircase, _add_bias_variance, _add_critics]
