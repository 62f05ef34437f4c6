r"""Linear probes of state variables from frozen frame representations (Anand et al. 2019, Table 2 style).

**Data**: :class:`~mibounds.representation.scenes.SpriteScenes`, procedural episodes of sprites
bouncing in a box, with the sprites' positions known at every frame (nothing is downloaded).

**Experiment** (:func:`run_stdim_experiment`). For each seed, four encoders of the same
architecture (:class:`~mibounds.representation.dim.ConvEncoder`, 32x32 frames to a local feature
map and a global feature) are compared, each as the columns of the published table:

- ``mean``: no encoder; the probe predicts the training episodes' mean state (R² about 0, the
  counterpart of the paper's majority classifier);
- ``random``: the encoder at initialization (a strong baseline in the paper);
- ``vae``: a variational autoencoder, the global feature the posterior mean (a diagonal Gaussian
  whose log-variance a linear head reads off the feature map), a transposed-convolution decoder
  of the frame (Bernoulli likelihood on the pixel intensities), standard normal prior;
- ``pixel``: pixel prediction, the same decoder predicting the *next* frame from the global
  feature of the current one (the paper's Pixel-Pred);
- ``cpc``: :class:`~mibounds.representation.cpc.CPC` around the encoder's global feature,
  InfoNCE between the GRU context and the features 1..``horizon`` frames ahead;
- ``stdim``: :class:`~mibounds.representation.stdim.STDIM`, global–local and local–local
  InfoNCE between consecutive frames;
- ``supervised``: the encoder and a linear head trained on the true state with squared error
  (the ceiling: it sees the labels).

All are trained on the frames of the training episodes only. Then each encoder is frozen and a
linear probe (ridge regression from the global feature) is fitted per state variable on the
training episodes and scored by :math:`R^2` on held-out episodes (positions are continuous here,
so R² stands in for the paper's F1 over binned values). :class:`STDIMProbeResult` holds the
scores per seed; :meth:`STDIMProbeResult.table` lays them out as the paper does: a row per state
variable and a mean row, a column per method, mean ± standard deviation over seeds.

Every seed and method is an independent job (:func:`seed_scores`, seeded by the seed alone):
with ``workers > 1`` the jobs run in spawned worker processes of one torch thread each, and give
the same numbers as the seeds one after another in a one-thread process. :func:`plot_stdim_probes` draws a few
frames of a held-out episode next to the table as grouped bars.

Example:
    >>> import numpy as np
    >>> from mibounds.experiments.stdim import probe_scores
    >>> rng = np.random.default_rng(0)
    >>> state = rng.random((400, 2))
    >>> features = np.concatenate([state @ [[1.0, 2.0], [0.5, -1.0]], rng.random((400, 3))], 1)
    >>> scores = probe_scores(features[:200], state[:200], features[200:], state[200:])
    >>> [round(s, 2) for s in scores]  # the state is a linear function of the features
    [1.0, 1.0]

Reference:
    Anand, Racah, Ozair, Bengio, Côté, Hjelm (2019). Unsupervised State Representation Learning
    in Atari. NeurIPS. arXiv:1906.08226.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from mibounds._progress import progress_bar, progress_steps
from mibounds.experiments.figures import Table, require_matplotlib, write_figure
from mibounds.representation.cpc import CPC
from mibounds.representation.digits import require_sklearn
from mibounds.representation.dim import ConvEncoder
from mibounds.representation.scenes import SceneEpisodes, SpriteScenes
from mibounds.representation.stdim import STDIM
from mibounds.validation import check_int, unknown_name_error

__all__ = [
    "METHODS",
    "FrameDecoder",
    "STDIMProbeResult",
    "plot_stdim_probes",
    "probe_scores",
    "run_stdim_experiment",
    "seed_scores",
    "train_encoder",
]

#: The columns of the table, in the paper's order: baselines, generative methods, the two
#: contrastive methods, the ceiling.
METHODS: tuple[str, ...] = ("mean", "random", "vae", "pixel", "cpc", "stdim", "supervised")


def probe_scores(
    train_features: np.ndarray, train_state: np.ndarray, test_features: np.ndarray, test_state: np.ndarray
) -> list[float]:
    """Held-out :math:`R^2` of a ridge probe for each state variable (a column of the state).

    The features are standardized with the training statistics; ridge's ``alpha = 1`` then acts
    evenly on every feature.
    """
    require_sklearn("the linear probes")
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(train_features, train_state)
    predicted = probe.predict(test_features)
    return [float(r2_score(test_state[:, i], predicted[:, i])) for i in range(test_state.shape[1])]


class FrameDecoder(nn.Module):
    """``code [B, D] -> logits [B, 1, S, S]``: a linear layer to a ``[32, S/8, S/8]`` map, then three
    stride-2 4x4 transposed convolutions (32, 16, 1 channels; ReLU between), a mirror of the encoder.

    Example:
        >>> import torch
        >>> FrameDecoder(8, 16)(torch.zeros(3, 8)).shape
        torch.Size([3, 1, 16, 16])
    """

    def __init__(self, code_dim: int, image_size: int) -> None:
        super().__init__()
        if image_size % 8 != 0:
            raise ValueError(f"image_size must be divisible by 8 (three stride-2 layers), got {image_size}")
        self.side = image_size // 8
        self.project = nn.Linear(code_dim, 32 * self.side * self.side)
        self.net = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(32, 32, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(32, 16, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(16, 1, kernel_size=4, stride=2, padding=1),
        )

    def forward(self, code: Tensor) -> Tensor:
        return self.net(self.project(code).view(-1, 32, self.side, self.side))


def _reconstruction_nats(logits: Tensor, target: Tensor) -> Tensor:
    """Bernoulli negative log-likelihood of the pixel intensities, summed over pixels, mean over the batch."""
    return nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="sum") / target.shape[0]


class _GlobalFeature(nn.Module):
    """The encoder's global feature alone (CPC's per-step encoder)."""

    def __init__(self, encoder: ConvEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, frames: Tensor) -> Tensor:
        return self.encoder(frames)[1]


def _pairs(episodes: SceneEpisodes, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``batch_size`` random consecutive-frame pairs ``(x_t, x_{t+1})``, each from a random episode."""
    n, length = episodes.frames.shape[:2]
    episode = torch.randint(n, (batch_size,), generator=generator)
    t = torch.randint(length - 1, (batch_size,), generator=generator)
    return episodes.frames[episode, t], episodes.frames[episode, t + 1]


def _windows(episodes: SceneEpisodes, num: int, window: int, generator: torch.Generator) -> Tensor:
    """``num`` random windows of ``window`` consecutive frames: ``[num, window, 1, S, S]``."""
    n, length = episodes.frames.shape[:2]
    episode = torch.randint(n, (num,), generator=generator)
    start = torch.randint(length - window + 1, (num,), generator=generator)
    steps = start[:, None] + torch.arange(window)
    return episodes.frames[episode[:, None], steps]


def train_encoder(
    method: str,
    episodes: SceneEpisodes,
    *,
    num_steps: int = 600,
    batch_size: int = 64,
    code_dim: int = 64,
    channels: Sequence[int] = (32, 64),
    learning_rate: float = 1e-3,
    horizon: int = 3,
    seed: int = 0,
    progress: bool = False,
) -> ConvEncoder:
    """An encoder trained on the frames of ``episodes`` by ``method`` (one of :data:`METHODS`).

    Every method sees about ``2 * batch_size`` frames per step: ST-DIM ``batch_size`` pairs, CPC
    ``2 * batch_size / 8`` windows of 8 frames, the supervised encoder and the VAE ``2 *
    batch_size`` frames (with their states for the former), pixel prediction ``2 * batch_size``
    frames with their successors. ``"random"`` returns the encoder at initialization; ``"mean"``
    has no encoder (:func:`seed_scores` probes constant features) and is refused here.
    """
    if method not in METHODS or method == "mean":
        raise unknown_name_error("method", method, METHODS[1:])
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    image_size = episodes.frames.shape[-1]
    encoder = ConvEncoder(1, image_size, code_dim=code_dim, channels=channels)
    if method == "random":
        return encoder.eval()
    objective: nn.Module
    if method == "stdim":
        objective = STDIM(encoder.feature_channels, code_dim)
    elif method == "cpc":
        objective = CPC(_GlobalFeature(encoder), code_dim, context_dim=code_dim, horizon=horizon)
    elif method in ("vae", "pixel"):
        objective = nn.ModuleDict({"decoder": FrameDecoder(code_dim, image_size)})
        if method == "vae":  # the posterior's log-variance, read off the feature map
            side = encoder.feature_size
            objective["log_variance"] = nn.Sequential(
                nn.Flatten(), nn.Linear(encoder.feature_channels * side * side, code_dim)
            )
    else:
        objective = nn.Linear(code_dim, episodes.state.shape[-1])
    parameters = {id(p): p for p in [*encoder.parameters(), *objective.parameters()]}  # CPC holds the encoder too
    optimizer = torch.optim.Adam(parameters.values(), lr=learning_rate)
    frames_flat, state_flat = episodes.frames.flatten(0, 1), episodes.state.flatten(0, 1)
    for _ in progress_steps(num_steps, progress, method):
        if method == "stdim":
            x_t, x_next = _pairs(episodes, batch_size, g)
            maps, codes = encoder(torch.cat([x_t, x_next]))
            loss = objective(maps[:batch_size], codes[batch_size:], maps[batch_size:]).loss
        elif method == "cpc":
            loss = objective(_windows(episodes, max(2, 2 * batch_size // 8), 8, g)).loss
        elif method == "vae":  # the negative ELBO in nats per frame
            parts = cast(nn.ModuleDict, objective)
            frames = frames_flat[torch.randint(frames_flat.shape[0], (2 * batch_size,), generator=g)]
            maps, mean = encoder(frames)
            log_variance = parts["log_variance"](maps)
            code = mean + (0.5 * log_variance).exp() * torch.randn(mean.shape, generator=g)
            kl = 0.5 * (mean.pow(2) + log_variance.exp() - 1.0 - log_variance).sum(dim=1).mean()
            loss = _reconstruction_nats(parts["decoder"](code), frames) + kl
        elif method == "pixel":
            x_t, x_next = _pairs(episodes, 2 * batch_size, g)
            loss = _reconstruction_nats(cast(nn.ModuleDict, objective)["decoder"](encoder(x_t)[1]), x_next)
        else:
            rows = torch.randint(frames_flat.shape[0], (2 * batch_size,), generator=g)
            loss = (objective(encoder(frames_flat[rows])[1]) - state_flat[rows]).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return encoder.eval()


@torch.no_grad()
def _features(encoder: ConvEncoder, episodes: SceneEpisodes) -> np.ndarray:
    frames = episodes.frames.flatten(0, 1)
    return torch.cat([encoder(part)[1] for part in frames.split(1024)]).double().numpy()


@dataclass
class STDIMProbeResult:
    """What :func:`run_stdim_experiment` returns.

    Attributes:
        state_names: The probed state variables.
        scores: ``{method: [per seed: [R^2 per state variable]]}`` on held-out episodes.
        seeds: The seeds, in the order of the per-seed lists.
        seconds: Wall time of the whole run.
        episode: The frames ``[T, S, S]`` of the first held-out episode of the first seed (what
            :func:`plot_stdim_probes` shows), or None.
        workers: Processes the jobs ran in (1: the seeds one after another in this process).
    """

    state_names: tuple[str, ...]
    scores: dict[str, list[list[float]]] = field(default_factory=dict)
    seeds: tuple[int, ...] = ()
    seconds: float = 0.0
    episode: np.ndarray | None = None
    workers: int = 1

    def mean_scores(self, method: str) -> list[float]:
        """Per seed, the mean R^2 over state variables."""
        return [statistics.fmean(row) for row in self.scores[method]]

    def mean_and_standard_error(self, method: str) -> tuple[float, float]:
        """The mean over seeds of :meth:`mean_scores` and its standard error (sd / sqrt(seeds))."""
        values = self.mean_scores(method)
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return statistics.fmean(values), spread / len(values) ** 0.5

    def paired_difference(self, method: str, baseline: str) -> tuple[list[float], float, float]:
        """Per seed, ``method``'s mean R² minus ``baseline``'s (same data and seed), their mean and its SE."""
        differences = [a - b for a, b in zip(self.mean_scores(method), self.mean_scores(baseline), strict=True)]
        spread = statistics.stdev(differences) if len(differences) > 1 else 0.0
        return differences, statistics.fmean(differences), spread / len(differences) ** 0.5

    def table(self) -> Table:
        """Rows: state variables and the mean; columns: methods; cells "mean ± std over seeds"."""

        def cell(values: list[float]) -> str:
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.fmean(values):.3f} ± {spread:.3f}"

        methods = list(self.scores)
        rows = [
            (name, *(cell([seed_scores[i] for seed_scores in self.scores[m]]) for m in methods))
            for i, name in enumerate(self.state_names)
        ]
        rows.append(("mean", *(cell(self.mean_scores(m)) for m in methods)))
        title = f"linear-probe R^2 on held-out episodes, mean ± std over {len(self.seeds)} seeds"
        return Table(("state variable", *methods), rows, title)


def _episodes(
    scenes: SpriteScenes, seed: int, num_train_episodes: int, num_test_episodes: int, episode_length: int
) -> tuple[SceneEpisodes, SceneEpisodes]:
    """The training and held-out episodes of ``seed`` (each from its own generator)."""
    train = scenes.sample(num_train_episodes, episode_length, torch.Generator().manual_seed(seed))
    test = scenes.sample(num_test_episodes, episode_length, torch.Generator().manual_seed(seed + 10_000))
    return train, test


def seed_scores(
    seed: int,
    methods: Sequence[str] = METHODS,
    num_steps: int = 600,
    num_train_episodes: int = 64,
    num_test_episodes: int = 32,
    episode_length: int = 32,
    batch_size: int = 64,
    code_dim: int = 64,
    scenes: SpriteScenes | None = None,
    progress: bool = False,
) -> dict[str, list[float]]:
    """One seed of :func:`run_stdim_experiment`: each method's held-out R² per state variable.

    A job of its own: the episodes, every encoder's initialization and its batches are drawn
    from generators seeded by ``seed`` alone, so the result depends on nothing run before it in
    the process (only on the number of torch threads, through floating-point summation order).

    Args:
        seed: Seeds the episodes (``seed`` for training, ``seed + 10000`` held out) and the networks.
        methods: Which methods, a subset of :data:`METHODS`.
        num_steps: Training steps of each trained encoder.
        num_train_episodes: Episodes for the encoders and the probes' fit.
        num_test_episodes: Held-out episodes for the probes' scores.
        episode_length: Frames per episode.
        batch_size: Frame pairs per ST-DIM step (see :func:`train_encoder` for the others).
        code_dim: Size of the global feature the probes read.
        scenes: The scene generator (default :class:`SpriteScenes`).
        progress: Show tqdm bars when tqdm is installed.

    Returns:
        ``{method: [R^2 per state variable]}``, in the order of ``methods``.
    """
    scenes = scenes or SpriteScenes()
    train, test = _episodes(scenes, seed, num_train_episodes, num_test_episodes, episode_length)
    train_state, test_state = (e.state.flatten(0, 1).double().numpy() for e in (train, test))
    scores: dict[str, list[float]] = {}
    for method in methods:
        if method == "mean":  # constant features: the probe predicts the training mean
            constant = [np.zeros((len(state), 1)) for state in (train_state, test_state)]
            scores[method] = probe_scores(constant[0], train_state, constant[1], test_state)
            continue
        encoder = train_encoder(
            method,
            train,
            num_steps=num_steps,
            batch_size=batch_size,
            code_dim=code_dim,
            seed=seed,
            progress=progress,
        )
        scores[method] = probe_scores(_features(encoder, train), train_state, _features(encoder, test), test_state)
    return scores


def run_stdim_experiment(
    seeds: Sequence[int] = (0, 1, 2),
    methods: Sequence[str] = METHODS,
    num_steps: int = 600,
    num_train_episodes: int = 64,
    num_test_episodes: int = 32,
    episode_length: int = 32,
    batch_size: int = 64,
    code_dim: int = 64,
    scenes: SpriteScenes | None = None,
    progress: bool = False,
    workers: int = 1,
    threads_per_worker: int | None = 1,
) -> STDIMProbeResult:
    """Train each method's encoder and probe the state on held-out episodes, for several seeds.

    Per seed (:func:`seed_scores`): fresh training and test episodes (the test episodes never
    reach an encoder or a probe's fit), one encoder per method (:func:`train_encoder`), and a
    ridge probe per method (:func:`probe_scores`).

    Args:
        seeds: One run per seed (networks and data).
        methods: Which columns to run, a subset of :data:`METHODS`.
        num_steps: Training steps of each trained encoder.
        num_train_episodes: Episodes for the encoders and the probes' fit.
        num_test_episodes: Held-out episodes for the probes' scores.
        episode_length: Frames per episode.
        batch_size: Frame pairs per ST-DIM step (see :func:`train_encoder` for the others).
        code_dim: Size of the global feature the probes read.
        scenes: The scene generator (default :class:`SpriteScenes` with 3 sprites, 32x32 frames).
        progress: Show tqdm bars when tqdm is installed (per training run in this process; per
            finished seed with worker processes).
        workers: Worker processes; they share out one job per seed and method (a call of
            :func:`seed_scores` with that one method). 1 runs the seeds one after another in this
            process, with its torch threads as they are.
        threads_per_worker: torch threads in each worker process (None: torch's default). With
            one thread here and in the workers, both ways give the same numbers.

    Returns:
        :class:`STDIMProbeResult`.
    """
    require_sklearn("the ST-DIM probes")
    for method in methods:
        if method not in METHODS:
            raise unknown_name_error("method", method, METHODS)
    workers = check_int(workers, "workers", minimum=1)
    scenes = scenes or SpriteScenes()
    options: dict[str, Any] = dict(
        num_steps=num_steps,
        num_train_episodes=num_train_episodes,
        num_test_episodes=num_test_episodes,
        episode_length=episode_length,
        batch_size=batch_size,
        code_dim=code_dim,
        scenes=scenes,
    )
    # One job per seed and method, the trained methods first (the untrained ones are short).
    jobs = sorted(
        ((seed, method) for seed in seeds for method in methods), key=lambda job: job[1] in ("random", "mean")
    )
    workers = min(workers, max(1, len(jobs)))
    result = STDIMProbeResult(scenes.state_names, {m: [] for m in methods}, tuple(seeds), workers=workers)
    start = time.perf_counter()
    found: dict[tuple[int, str], list[float]] = {}
    if workers == 1:
        for seed in seeds:
            for method, scores in seed_scores(seed, methods, progress=progress, **options).items():
                found[seed, method] = scores
    else:
        from mibounds.experiments.sweep.executors import ProcessExecutor

        bar = progress_bar(len(jobs), progress, desc="seed x method jobs")
        job = functools.partial(seed_scores, **options)  # pickled by reference: workers import it
        executor = ProcessExecutor(workers, threads_per_worker=threads_per_worker)
        for index, scores in executor.map_jobs(job, [(seed, (method,)) for seed, method in jobs]):
            found[jobs[index]] = scores[jobs[index][1]]
            if bar is not None:
                bar.update()
        if bar is not None:
            bar.close()
    for method in methods:
        result.scores[method] = [found[seed, method] for seed in seeds]
    result.seconds = time.perf_counter() - start
    if seeds:
        _, test = _episodes(scenes, seeds[0], num_train_episodes, num_test_episodes, episode_length)
        result.episode = test.frames[0, :, 0].numpy()
    return result


def plot_stdim_probes(result: STDIMProbeResult, path: str | Path, *, num_frames: int = 6) -> Path:
    """Figure of a run: a held-out episode's first frames, and the probe R² as grouped bars.

    Left: ``num_frames`` consecutive frames of :attr:`STDIMProbeResult.episode` (two rows).
    Right: per state variable and for their mean, one bar per method at its mean R² over seeds,
    with error bars of one seed standard deviation (the numbers of :meth:`STDIMProbeResult.table`).

    Args:
        result: What :func:`run_stdim_experiment` returned.
        path: Output file (its suffix picks the format, e.g. ``.png``).
        num_frames: Frames shown, from the start of the episode.

    Returns:
        The path written.

    Raises:
        ImportError: If matplotlib (the ``plot`` extra) is missing.
        ValueError: If the result holds no episode or no scores.
    """
    require_matplotlib()
    num_frames = check_int(num_frames, "num_frames", minimum=1)
    if result.episode is None or not result.scores:
        raise ValueError("the result holds no episode or no scores: pass what run_stdim_experiment returned")
    frames = result.episode[:num_frames]
    columns = (len(frames) + 1) // 2 if len(frames) > 1 else 1
    rows = (len(frames) + columns - 1) // columns

    def draw(fig: Any) -> None:
        left, right = fig.subfigures(1, 2, width_ratios=(1.0, 2.1))
        axes = np.atleast_1d(left.subplots(rows, columns, squeeze=False)).ravel()
        for t, ax in enumerate(axes):
            ax.set_axis_off()
            if t < len(frames):
                ax.imshow(frames[t], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
                ax.set_title(f"t = {t}", fontsize=9)
        left.suptitle(f"held-out episode (seed {result.seeds[0]})", fontsize=10)

        ax = right.subplots()
        labels = [*result.state_names, "mean"]
        methods = list(result.scores)
        width = 0.8 / len(methods)
        positions = np.arange(len(labels))
        for m, method in enumerate(methods):
            per_seed = np.array([[*row, statistics.fmean(row)] for row in result.scores[method]])  # [seeds, vars + 1]
            spread = per_seed.std(axis=0, ddof=1) if per_seed.shape[0] > 1 else np.zeros(per_seed.shape[1])
            ax.bar(
                positions + (m - (len(methods) - 1) / 2) * width,
                per_seed.mean(axis=0),
                width,
                yerr=spread,
                capsize=2,
                label=method,
            )
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(positions, labels, fontsize=9)
        ax.set_ylabel("held-out R²")
        ax.set_title(f"linear probe of each state variable (mean ± std over {len(result.seeds)} seeds)", fontsize=10)
        ax.grid(False, axis="x")  # bars: a grid across the values only
        ax.legend(fontsize=8, ncols=len(methods), loc="upper left")
        ax.set_ylim(min(-0.1, ax.get_ylim()[0]), 1.12)

    return write_figure(path, draw, (12.0, 3.8), layout="constrained")
