"""Ground-truth tasks: joint distributions p(x, y) with known mutual information (nats).

Every task samples paired batches (``sample(n, seed)``) and knows its MI in closed form; where its
densities are known it also gives the optimal critic ``log_ratio(x, y)`` on every pair of a batch,
the encoder ``log_conditional(x, y)``, the marginal ``log_marginal_y(y)`` and ``entropy_x``.

- :class:`Gaussian`, :class:`Cubic`: the correlated Gaussian (and its (W y)^3 version) of Poole et al. 2019.
- :class:`MultivariateNormal` (``.dense``, ``.sparse``), :class:`StudentT` and
  :class:`Transformed` (maps :class:`NormalCDF`, :class:`HalfCube`, :class:`Asinh`,
  :class:`Cube`, :class:`Spiral`): the "Beyond Normal" families of Czyz et al. 2023.
- :class:`ConditionalGaussian`: Gaussian triples (x, y, z) with known I(X; Y | Z) (a confounder, a
  collider).
- :class:`ClassConditionalGaussian`: a class label and class-conditional Gaussians (MI by
  quadrature), for categorical estimates; :class:`FloatLabels`: the label as a float column x
  (MI by Monte Carlo).
- :class:`SignMixture`: a mixture of correlated Gaussians whose correlations flip sign between
  components (identity covariance; MI by Monte Carlo, with ``mutual_information_stderr``).
- :class:`Embedded` (maps :class:`Embedding`): a task embedded injectively into wide spaces.
- :func:`mi_schedule`: the MI staircase; :func:`names`, :func:`describe`, :func:`make`: the registry;
  :func:`at_mi`: a family or an id at another MI level.

Example:
    >>> from mibounds import tasks
    >>> task = tasks.make("gaussian", dim=20, mi=2.0)
    >>> x, y = task.sample(64, seed=0)
    >>> task.log_ratio(x, y).diagonal().mean().item() > 0
    True
"""

from mibounds.tasks.base import Task
from mibounds.tasks.conditional import ConditionalGaussian
from mibounds.tasks.embedding import Embedded, Embedding
from mibounds.tasks.gaussian import Gaussian, MultivariateNormal
from mibounds.tasks.mixture import ClassConditionalGaussian, FloatLabels
from mibounds.tasks.regimes import SignMixture
from mibounds.tasks.registry import TaskFamily, at_mi, describe, get, make, names
from mibounds.tasks.scale import JointScale as JointScale  # importable, not public
from mibounds.tasks.schedule import mi_schedule
from mibounds.tasks.student_t import StudentT, student_t_mi_correction
from mibounds.tasks.transforms import (
    Asinh,
    Composed,
    Cube,
    Cubic,
    ElementwiseMap,
    HalfCube,
    Linear,
    Map,
    NormalCDF,
    Rotation,
    Spiral,
    Transformed,
    make_map,
    map_names,
    mixing_matrix,
)

__all__ = [
    "Asinh",
    "ClassConditionalGaussian",
    "Composed",
    "ConditionalGaussian",
    "Cube",
    "Cubic",
    "ElementwiseMap",
    "Embedded",
    "Embedding",
    "FloatLabels",
    "Gaussian",
    "HalfCube",
    "Linear",
    "Map",
    "MultivariateNormal",
    "NormalCDF",
    "Rotation",
    "SignMixture",
    "Spiral",
    "StudentT",
    "Task",
    "TaskFamily",
    "Transformed",
    "at_mi",
    "describe",
    "get",
    "make",
    "make_map",
    "map_names",
    "mixing_matrix",
    "mi_schedule",
    "names",
    "student_t_mi_correction",
]
