r"""Bell–Sejnowski InfoMax ICA: independent components by maximizing the information a network passes.

A network maps an input x to :math:`y = g(W \tilde x)`, with :math:`\tilde x` the whitened input,
W a square matrix and g a bounded increasing nonlinearity applied to each coordinate of
:math:`u = W \tilde x`. With a little noise at the output, :math:`I(X; Y) = H(Y) - H(\text{noise})`,
so maximizing the information the network transmits is maximizing its output entropy (Linsker's
InfoMax principle). For an invertible map the change of variables gives

.. math::
    H(Y) = h(\tilde X) + \log|\det W| + \sum_i \mathbb{E}\,\log g'(u_i),

so, :math:`h(\tilde X)` being fixed, InfoMax maximizes :math:`L(W) = \log|\det W| +
\mathbb{E}\sum_i \log g'(u_i)` (:func:`infomax_objective`, in nats per sample). The bounded g
caps H(Y), and the cap is reached when the coordinates of y are independent and each uniform: when
:math:`g'` matches the density of each :math:`u_i`. For super-Gaussian sources (speech, Laplace)
and the logistic g this makes the :math:`u_i` the independent sources, up to order and scale
(Bell & Sejnowski 1995). It is maximum-likelihood ICA with the source density :math:`g'`
(Cardoso 1997), and the gradient is followed in Amari's natural (relative) form

.. math::
    \Delta W \propto \nabla_W L\, W^\top W = \big(I + \mathbb{E}[\varphi(u) u^\top]\big) W,
    \qquad \varphi = (\log g')',

which needs no matrix inverse and is equivariant: its path does not depend on the mixing
(:func:`natural_gradient`, from autograd). Nonlinearities: ``"logistic"``,
:math:`g = \sigma`, :math:`\log g' = -\mathrm{softplus}(u) - \mathrm{softplus}(-u)`,
:math:`\varphi = 1 - 2\sigma(u)`; ``"tanh"``, :math:`\log g' = \log(1 - \tanh^2 u) = -2\log\cosh u`,
:math:`\varphi = -2\tanh u`.

A fixed super-Gaussian model cannot separate sub-Gaussian sources (uniform ones: the fit is then
worse than whitening alone). ``extended=True`` is the extended InfoMax of Lee, Girolami and
Sejnowski (1999): each component's model switches between :math:`\propto e^{-u^2/2}\,\mathrm{sech}\,u`
(super-Gaussian, :math:`k_i = 1`) and :math:`\propto e^{-u^2/2}\cosh u` (sub-Gaussian,
:math:`k_i = -1`), with :math:`k_i = \mathrm{sign}(\mathbb{E}[\mathrm{sech}^2 u_i]\,
\mathbb{E}[u_i^2] - \mathbb{E}[u_i \tanh u_i])` re-estimated on all rows before every epoch
(Lee et al. estimate it on blocks; a minibatch of 128 rows flips weak components); the update is
:math:`(I - K \tanh(u) u^\top - u u^\top) W`.

The quality of a separation is the Amari index of :math:`P = W_\text{total} A`
(:func:`amari_index`): 0 when P is a scaled permutation, at most 1.

References:
    Bell, Sejnowski (1995). An Information-Maximization Approach to Blind Separation and Blind
    Deconvolution. Neural Computation 7(6). Linsker (1988). Self-organization in a perceptual
    network. Amari, Cichocki, Yang (1996). A New Learning Algorithm for Blind Signal Separation.
    NeurIPS. Cardoso (1997). Infomax and maximum likelihood for blind source separation. Lee,
    Girolami, Sejnowski (1999). Independent Component Analysis Using an Extended Infomax
    Algorithm for Mixed Subgaussian and Supergaussian Sources. Neural Computation 11(2).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mibounds.validation import check_int, check_positive, unknown_name_error

__all__ = ["InfoMaxICA", "amari_index", "infomax_objective", "log_derivative", "natural_gradient"]

Nonlinearity = Literal["logistic", "tanh"]
_NONLINEARITIES = ("logistic", "tanh")


def log_derivative(u: Tensor, nonlinearity: Nonlinearity = "logistic") -> Tensor:
    r"""``log g'(u)`` elementwise, computed stably for any u.

    Logistic: :math:`\log\sigma'(u) = -\mathrm{softplus}(u) - \mathrm{softplus}(-u)`; tanh:
    :math:`\log(1 - \tanh^2 u) = 2(\log 2 - u - \mathrm{softplus}(-2u))`.

    Example:
        >>> import torch
        >>> round(float(log_derivative(torch.tensor(0.0))), 6), round(float(log_derivative(torch.tensor(0.0), "tanh")), 6)
        (-1.386294, 0.0)
    """
    if nonlinearity == "logistic":
        return -F.softplus(u) - F.softplus(-u)
    if nonlinearity == "tanh":
        return 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))
    raise unknown_name_error("nonlinearity", nonlinearity, _NONLINEARITIES)


def _extended_log_density(u: Tensor, signs: Tensor) -> Tensor:
    """Extended InfoMax's source model, up to constants: ``-u^2/2 - k log cosh u`` per component."""
    log_cosh = u + F.softplus(-2.0 * u) - math.log(2.0)
    return -0.5 * u.square() - signs * log_cosh


def infomax_objective(
    unmixing: Tensor, whitened: Tensor, nonlinearity: Nonlinearity = "logistic", signs: Tensor | None = None
) -> Tensor:
    r"""The InfoMax objective :math:`L(W) = \log|\det W| + \frac1N\sum_n\sum_i \log g'(u_{ni})`.

    In nats per sample: the output entropy :math:`H(g(W\tilde X))` minus the fixed input entropy
    :math:`h(\tilde X)`, for ``u = whitened @ W.T``. With ``signs`` (extended InfoMax, ``[d]`` of
    +-1) the per-component term is the switching log-density ``-u^2/2 - k_i log cosh u``
    (a log-likelihood up to constants).

    Args:
        unmixing: W, ``[d, d]``.
        whitened: ``[N, d]`` whitened inputs.
        nonlinearity: ``"logistic"`` or ``"tanh"`` (ignored with ``signs``).
        signs: Optional ``[d]`` extended-InfoMax signs.

    Returns:
        0-d tensor (differentiable in ``unmixing``).

    Example:
        >>> import torch
        >>> x = torch.zeros(5, 3, dtype=torch.float64)
        >>> round(float(infomax_objective(torch.eye(3, dtype=torch.float64), x)), 6)  # 3 log(1/4)
        -4.158883
    """
    u = whitened @ unmixing.T
    per_sample = (log_derivative(u, nonlinearity) if signs is None else _extended_log_density(u, signs)).sum(1)
    return torch.linalg.slogdet(unmixing)[1] + per_sample.mean()


def natural_gradient(
    unmixing: Tensor, whitened: Tensor, nonlinearity: Nonlinearity = "logistic", signs: Tensor | None = None
) -> Tensor:
    r"""Amari's natural gradient of :func:`infomax_objective`: :math:`\nabla_W L \, W^\top W`.

    The ordinary gradient comes from autograd; for the logistic it equals
    :math:`(I + \mathbb{E}[(1 - 2\sigma(u)) u^\top]) W` (tested).

    Returns:
        ``[d, d]``, the ascent direction.
    """
    w = unmixing.detach().requires_grad_(True)
    (gradient,) = torch.autograd.grad(infomax_objective(w, whitened, nonlinearity, signs), w)
    return gradient @ unmixing.T @ unmixing


def _extended_signs(u: Tensor) -> Tensor:
    """Lee et al.'s switch: +1 (super-Gaussian) where E[sech^2 u] E[u^2] > E[u tanh u], else -1."""
    tanh = torch.tanh(u)
    statistic = (1.0 - tanh.square()).mean(0) * u.square().mean(0) - (u * tanh).mean(0)
    return torch.where(statistic >= 0, 1.0, -1.0).to(u)


def amari_index(unmixing: Tensor | np.ndarray, mixing: Tensor | np.ndarray) -> float:
    r"""The Amari index of :math:`P = \text{unmixing} \cdot \text{mixing}` (``[d, d]``, d >= 2).

    .. math::
        \frac{1}{2d(d-1)}\Big[\sum_i\Big(\frac{\sum_j |p_{ij}|}{\max_k |p_{ik}|} - 1\Big)
            + \sum_j\Big(\frac{\sum_i |p_{ij}|}{\max_k |p_{kj}|} - 1\Big)\Big]

    0 exactly when P is a permutation times a diagonal scaling (perfect separation, whatever the
    order and scale of the recovered sources); 1 when every entry has the same magnitude.

    Example:
        >>> import numpy as np
        >>> amari_index(np.array([[0.0, 2.0], [-3.0, 0.0]]), np.eye(2)), amari_index(np.ones((2, 2)), np.eye(2))
        (0.0, 1.0)
    """
    p = np.abs(np.asarray(unmixing, dtype=np.float64) @ np.asarray(mixing, dtype=np.float64))
    d = p.shape[0]
    if p.ndim != 2 or p.shape[1] != d or d < 2:
        raise ValueError(f"unmixing @ mixing must be a square matrix of size >= 2, got shape {p.shape}")
    rows = (p / p.max(axis=1, keepdims=True)).sum(axis=1) - 1.0
    columns = (p / p.max(axis=0, keepdims=True)).sum(axis=0) - 1.0
    return float((rows.sum() + columns.sum()) / (2 * d * (d - 1)))


class InfoMaxICA:
    """InfoMax ICA (Bell & Sejnowski 1995), trained by natural-gradient ascent in PyTorch.

    scikit-learn's estimator contract: ``__init__`` stores the settings, :meth:`fit` returns the
    estimator, fitted attributes end in ``_``. Fitting centres and whitens the data (PCA), starts
    from W = I, and runs epochs of shuffled minibatches, each step ``W += rate * natural_gradient``;
    the rate is multiplied by ``decay`` after every epoch (annealing), and fitting stops when an
    epoch moves W by less than ``tol`` (relative Frobenius norm) or after ``max_epochs``.

    Args:
        nonlinearity: ``"logistic"`` (Bell & Sejnowski) or ``"tanh"``.
        extended: Extended InfoMax (Lee et al. 1999) for sub- and super-Gaussian sources.
        learning_rate: Initial step size.
        batch_size: Rows per step.
        max_epochs: Upper limit on passes over the data.
        decay: Factor on the step size after each epoch, in (0, 1].
        tol: Stop when an epoch changes W by less than this (relative).
        random_state: Seed of the minibatch order.

    Attributes:
        mean_: ``[d]`` column means.
        whitening_: ``[d, d]`` PCA whitening matrix.
        rotation_: W, ``[d, d]``, acting on whitened data.
        unmixing_: ``W @ whitening_``: sources = ``(x - mean_) @ unmixing_.T``.
        signs_: ``[d]`` extended-InfoMax signs at the end (+1 super-, -1 sub-Gaussian), or None.
        objective_: :func:`infomax_objective` on all rows at the start (W = I), then after each
            epoch (nats per sample; with ``extended``, up to constants that change with the signs).
        n_epochs_: Epochs run.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> sources = torch.randn(2000, 2, generator=g) ** 3  # super-Gaussian
        >>> mixing = torch.tensor([[1.0, 0.6], [0.4, 1.0]])
        >>> ica = InfoMaxICA(max_epochs=30).fit(sources @ mixing.T)
        >>> amari_index(ica.unmixing_, mixing) < 0.1
        True
    """

    def __init__(
        self,
        nonlinearity: Nonlinearity = "logistic",
        *,
        extended: bool = False,
        learning_rate: float = 0.1,
        batch_size: int = 128,
        max_epochs: int = 100,
        decay: float = 0.97,
        tol: float = 1e-5,
        random_state: int | None = 0,
    ) -> None:
        self.nonlinearity = nonlinearity
        self.extended = extended
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.decay = decay
        self.tol = tol
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments (scikit-learn's contract)."""
        names = ("nonlinearity", "extended", "learning_rate", "batch_size", "max_epochs", "decay", "tol")
        return {name: getattr(self, name) for name in (*names, "random_state")}

    def _check(self) -> None:
        if self.nonlinearity not in _NONLINEARITIES:
            raise unknown_name_error("nonlinearity", self.nonlinearity, _NONLINEARITIES)
        check_positive(self.learning_rate, "learning_rate")
        check_positive(self.tol, "tol")
        check_int(self.batch_size, "batch_size", minimum=1)
        check_int(self.max_epochs, "max_epochs", minimum=1)
        if not 0 < self.decay <= 1:
            raise ValueError(f"decay must be in (0, 1] (the step size's factor per epoch), got {self.decay!r}")

    def fit(self, x: Tensor | np.ndarray) -> InfoMaxICA:
        """Learn the unmixing matrix from mixtures ``x`` ``[N, d]`` (N > d rows, float64 inside).

        Raises:
            ValueError: For bad settings, a non-finite or non-2-d ``x``, too few rows, or
                mixtures whose covariance is singular (fewer independent signals than columns).
        """
        self._check()
        data = torch.as_tensor(np.asarray(x, dtype=np.float64) if not isinstance(x, Tensor) else x).double()
        if data.dim() != 2 or data.shape[0] <= data.shape[1] or data.shape[1] < 1:
            raise ValueError(f"x must be [N, d] with more rows than columns, got shape {tuple(data.shape)}")
        if not bool(torch.isfinite(data).all()):
            raise ValueError("x has NaN or infinite values; drop or impute those rows first")
        self.mean_ = data.mean(0)
        centred = data - self.mean_
        eigenvalues, eigenvectors = torch.linalg.eigh(centred.T @ centred / data.shape[0])
        if not bool(eigenvalues[0] > 1e-10 * eigenvalues[-1]):
            raise ValueError(
                "the mixtures' covariance is singular (fewer independent signals than columns); "
                "reduce x to its leading principal components first"
            )
        self.whitening_ = (eigenvectors / eigenvalues.sqrt()).T
        whitened = centred @ self.whitening_.T
        w = torch.eye(data.shape[1], dtype=torch.float64)
        signs = torch.ones(data.shape[1], dtype=torch.float64) if self.extended else None
        generator = torch.Generator().manual_seed(0 if self.random_state is None else int(self.random_state))
        rate = float(self.learning_rate)
        self.objective_ = [float(infomax_objective(w, whitened, self.nonlinearity, signs))]
        for epoch in range(1, self.max_epochs + 1):
            start = w.clone()
            if signs is not None:  # on every row: a minibatch's estimate flips a weak component's sign
                signs = _extended_signs(whitened @ w.T)
            order = torch.randperm(data.shape[0], generator=generator)
            for first in range(0, data.shape[0], self.batch_size):
                batch = whitened[order[first : first + self.batch_size]]
                w = w + rate * natural_gradient(w, batch, self.nonlinearity, signs)
            rate *= self.decay
            if not bool(torch.isfinite(w).all()):
                raise RuntimeError(
                    f"InfoMax ICA diverged in epoch {epoch} (W is not finite); lower learning_rate "
                    f"(now {self.learning_rate})"
                )
            with torch.no_grad():
                self.objective_.append(float(infomax_objective(w, whitened, self.nonlinearity, signs)))
            if float(torch.linalg.norm(w - start) / torch.linalg.norm(start)) < self.tol:
                break
        self.rotation_, self.signs_, self.n_epochs_ = w, signs, epoch
        self.unmixing_ = w @ self.whitening_
        return self

    def transform(self, x: Tensor | np.ndarray) -> Tensor:
        """The recovered sources ``(x - mean_) @ unmixing_.T``, ``[N, d]`` float64."""
        if not hasattr(self, "unmixing_"):
            raise RuntimeError("this InfoMaxICA is not fitted yet; call fit(x) first")
        data = torch.as_tensor(np.asarray(x, dtype=np.float64) if not isinstance(x, Tensor) else x).double()
        return (data - self.mean_) @ self.unmixing_.T

    def fit_transform(self, x: Tensor | np.ndarray) -> Tensor:
        """:meth:`fit`, then :meth:`transform` of the same rows."""
        return self.fit(x).transform(x)
