r"""Is the critic's model of the density ratio right? Checks that hold for any critic, on held-out rows.

The plug-in estimate :math:`\hat I = E_p \log \hat r` is only as good as the critic :math:`\hat r`,
and its interval (the folds' noise) says nothing about the critic's bias. Three facts hold for any
critic and let the held-out rows contradict it:

1. **Normalization.** A density ratio has :math:`E_q r = 1` under :math:`q = p(x)p(y)`. The mean
   :math:`\hat Z` of :math:`\hat r` over the held-out independent pairs has expectation
   :math:`E_q \hat r`, so if :math:`\hat r` were a density ratio, Markov's inequality would give
   :math:`P(\hat Z \ge 1/\alpha) \le \alpha`, whatever the tails. :math:`\log \hat Z > \log(1/\alpha)`
   (3.0 nats at 95 %) therefore shows, at level :math:`\alpha`, that the critic is not normalized:
   it scores some independent pairs far above 1, and :math:`E_p \log \hat r` can then exceed I
   (by up to :math:`\log E_q \hat r`). The interval's lower end is then lowered to the certified
   lower bound, which holds for any critic.
2. **Donsker–Varadhan.** :math:`E_p \log \hat r - \log E_q \hat r \le I` for any critic. Where the
   mean over negatives is reliable (at least :data:`MIN_EFFECTIVE_PAIRS` effective pairs), a held-out
   DV value above the estimate's interval shows the estimate too low; the upper end is raised to it.
3. **InfoNCE.** The held-out InfoNCE value is a lower bound on I in expectation for any critic; its
   one-sided limit above the interval shows the estimate too low, and the upper end is raised to it.
4. **Overshoot.** With :math:`\hat p = \hat r\, q / E_q \hat r` (a normalized density),
   :math:`E_p \log \hat r = I - \mathrm{KL}(p \,\|\, \hat p) + \log E_q \hat r \le I + \log E_q \hat r`:
   a critic that averages above 1 over independent pairs, even by less than Markov's inequality
   can reject, may overstate I by up to :math:`\log \hat Z`. Where the mean over negatives is
   reliable and :math:`\log \hat Z > 0`, the interval's lower end is therefore lowered to the
   DV interval's, the interval of :math:`E_p \log \hat r - \log \hat Z \le I`. Over a few
   effective pairs a positive :math:`\log \hat Z` is mostly one lucky pair of a ratio in the
   thousands, not a model error (on the 20-d Gaussian at 8 and 10 nats, where the critics are
   exact, :math:`\log \hat Z` reached 0.33 from 2 to 11 effective pairs), so nothing is lowered.

Reference:
    Donsker & Varadhan (1983), "Asymptotic evaluation of certain Markov process expectations for
    large time IV", Comm. Pure Appl. Math. 36(2); Poole et al. (2019), "On Variational Bounds of
    Mutual Information", ICML.

Example:
    >>> from mibounds.estimation.model_check import check_model
    >>> from mibounds.estimation.uncertainty import Interval
    >>> estimate = Interval(5.4, 0.2, 5.0, 5.8, 0.95, 5)
    >>> certified = Interval(2.9, 0.05, 2.8, 3.0, 0.95, 5)
    >>> check = check_model(estimate, certified, None, log_normalizer=80.0, effective_pairs=1.0)
    >>> check.unnormalized, round(check.interval.low, 1), check.interval.high
    (True, 2.8, 5.8)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from mibounds.estimation.uncertainty import Interval, one_sided_lower

__all__ = ["MIN_EFFECTIVE_PAIRS", "ModelCheck", "check_model", "shown_unnormalized"]

#: Fewest effective independent pairs behind the log-mean of the critic over them for the DV
#: value to be trusted (its relative error is then about 1 / sqrt of this, 3 %).
MIN_EFFECTIVE_PAIRS = 1000.0


@dataclass(frozen=True)
class ModelCheck:
    """The outcome of :func:`check_model`.

    Attributes:
        interval: The estimate's interval, widened where a check contradicts it.
        log_normalizer: :math:`\\log \\hat Z`, the log-mean of the critic's ratio over the held-out
            independent pairs (0 for a density ratio), or None.
        effective_pairs: Effective number of those pairs behind it.
        unnormalized: :math:`\\log \\hat Z > \\log(1 / \\alpha)`: the critic is shown not to be a
            density ratio, and the estimate may be off either way.
        below_dv: The reliable held-out DV value is above the interval: the estimate is too low.
        below_certified: The certified lower bound is above the interval: the estimate is too low.
        overshoot: :math:`0 < \\log \\hat Z \\le \\log(1 / \\alpha)` with a reliable DV value: the lower
            end was lowered to the DV interval's (the estimate may overstate I by up to
            :math:`\\log \\hat Z`).
        dv: The held-out DV value, or None.
    """

    interval: Interval
    log_normalizer: float | None
    effective_pairs: float
    unnormalized: bool
    below_dv: bool
    below_certified: bool
    dv: Interval | None
    overshoot: bool = False


def shown_unnormalized(log_normalizer: float, confidence: float) -> bool:
    r"""Markov's test of fact 1: a pooled :math:`\log \hat Z` above :math:`\log(1 / \alpha)`,
    :math:`\alpha = 1 -` ``confidence``, shows at level :math:`\alpha` that the critic is no
    density ratio (one rule for the estimate's critics, the Gaussian critic before training and
    the unmixed columns' Gaussian).

    Example:
        >>> shown_unnormalized(3.1, 0.95), shown_unnormalized(2.9, 0.95)  # log 20 = 3.0
        (True, False)
    """
    return log_normalizer > math.log(1 / (1 - confidence))


def check_model(
    estimate: Interval,
    certified: Interval,
    dv: Interval | None,
    *,
    log_normalizer: float | None,
    effective_pairs: float,
) -> ModelCheck:
    r"""Check the estimate against the bounds that hold for any critic, and widen its interval.

    Args:
        estimate: The plug-in estimate and its interval.
        certified: The held-out InfoNCE value and its interval.
        dv: The held-out DV value and its interval (:func:`~mibounds.estimation.heldout.normalized_interval`),
            or None.
        log_normalizer: :math:`\log \hat Z` pooled over the folds, or None.
        effective_pairs: The fewest effective pairs behind a fold's :math:`\hat Z`.

    Returns:
        The :class:`ModelCheck`.
    """
    low, high = estimate.low, estimate.high
    unnormalized = log_normalizer is not None and shown_unnormalized(log_normalizer, estimate.confidence)
    if unnormalized:
        low = min(low, one_sided_lower(certified))
    reliable = dv is not None and effective_pairs >= MIN_EFFECTIVE_PAIRS
    overshoot = reliable and not unnormalized and log_normalizer is not None and log_normalizer > 0
    if overshoot:
        low = min(low, dv.low)  # type: ignore[union-attr]
    below_dv = reliable and dv.low > high  # type: ignore[union-attr]
    if below_dv:
        high = dv.high  # type: ignore[union-attr]
    below_certified = one_sided_lower(certified) > high
    if below_certified:
        high = certified.high
    return ModelCheck(
        interval=dataclasses.replace(estimate, low=low, high=high),
        log_normalizer=log_normalizer,
        effective_pairs=effective_pairs,
        unnormalized=unnormalized,
        below_dv=below_dv,
        below_certified=below_certified,
        dv=dv,
        overshoot=overshoot,
    )
