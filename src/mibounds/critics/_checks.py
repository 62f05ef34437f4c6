"""Shape and dtype checks shared by the critics, in the package's message style.

Every message names both offending shapes and says how to fix them. Kept private: the public
contract is the critics' ``forward`` docstrings.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mibounds.validation import check_int


def _check_tensor(t: Tensor, name: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}; wrap it with torch.as_tensor")
    if not torch.is_floating_point(t):
        raise TypeError(f"{name} must be floating point, got dtype {t.dtype}; call {name}.float()")


def check_dtype(module: nn.Module, *tensors: tuple[str, Tensor]) -> None:
    """Raise a clear ``TypeError`` when inputs and the module's parameters differ in dtype."""
    param = next(module.parameters(), None)
    if param is None:
        return
    for name, t in tensors:
        if t.dtype != param.dtype:
            cast = {torch.float64: ".double()", torch.float32: ".float()", torch.float16: ".half()"}
            fix = cast.get(t.dtype, f".to({t.dtype})")
            raise TypeError(
                f"{name} is {t.dtype} but the {type(module).__name__}'s parameters are {param.dtype}; "
                f"call critic{fix} to follow the input, or cast {name} to {param.dtype}"
            )


def check_pair(x: Tensor, y: Tensor, dim_x: int | None, dim_y: int | None) -> int:
    """Check a batch ``x [K, dim_x]``, ``y [K, dim_y]`` and return K.

    ``dim_x``/``dim_y`` of ``None`` accept any feature width.
    """
    _check_tensor(x, "x")
    _check_tensor(y, "y")
    shapes = f"x has shape {tuple(x.shape)} and y has shape {tuple(y.shape)}"
    want = f"[K, {'dim_x' if dim_x is None else dim_x}] and [K, {'dim_y' if dim_y is None else dim_y}]"
    if x.dim() != 2 or y.dim() != 2:
        raise ValueError(
            f"{shapes}; a critic takes two 2-d batches {want} (one row per sample); "
            "add a feature axis to 1-d data with .unsqueeze(-1)"
        )
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{shapes}: they have different batch sizes K; pass paired batches with one row of y "
            "per row of x (row i of x and row i of y are a sample of the joint)"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{shapes}: the batch is empty; pass at least one pair")
    _check_features(x, y, dim_x, dim_y, shapes)
    return x.shape[0]


def _check_features(x: Tensor, y: Tensor, dim_x: int | None, dim_y: int | None, shapes: str) -> None:
    for name, t, dim in (("x", x, dim_x), ("y", y, dim_y)):
        if dim is not None and t.shape[-1] != dim:
            raise ValueError(
                f"{shapes}, but the critic was built for dim_{name} = {dim}; pass {name} with "
                f"{dim} features in the last axis or build the critic with dim_{name}={t.shape[-1]}"
            )


def check_stacked_pair(x: Tensor, y: Tensor, num_members: int, dim_x: int, dim_y: int) -> int:
    """Check ``x`` ``[K, dim_x]`` or ``[M, K, dim_x]`` (and the same for ``y``) and return K."""
    _check_tensor(x, "x")
    _check_tensor(y, "y")
    shapes = f"x has shape {tuple(x.shape)} and y has shape {tuple(y.shape)}"
    for name, t in (("x", x), ("y", y)):
        if t.dim() not in (2, 3) or (t.dim() == 3 and t.shape[0] != num_members):
            raise ValueError(
                f"{shapes}; a stack of M = {num_members} critics takes {name} as [K, dim_{name}] "
                f"(one batch shared by every member) or [{num_members}, K, dim_{name}] (one batch "
                "per member); reshape it to one of these"
            )
    if x.shape[-2] != y.shape[-2]:
        raise ValueError(
            f"{shapes}: they have different batch sizes K (the second-to-last axis); pass paired "
            "batches with one row of y per row of x"
        )
    if x.shape[-2] == 0:
        raise ValueError(f"{shapes}: the batch is empty; pass at least one pair")
    _check_features(x, y, dim_x, dim_y, shapes)
    return x.shape[-2]


def check_y(y: Tensor, dim_y: int | None) -> int:
    """Check a baseline input ``y [K, dim_y]`` and return K."""
    _check_tensor(y, "y")
    if y.dim() != 2:
        raise ValueError(
            f"y has shape {tuple(y.shape)}; a baseline takes a 2-d batch [K, dim_y]; "
            "add a feature axis to 1-d data with .unsqueeze(-1)"
        )
    if dim_y is not None and y.shape[1] != dim_y:
        raise ValueError(
            f"y has shape {tuple(y.shape)}, but the baseline was built for dim_y = {dim_y}; pass y "
            f"with {dim_y} features or build the baseline with dim_y={y.shape[1]}"
        )
    return y.shape[0]


def check_size(value: int, name: str, minimum: int = 1) -> int:
    """Check a layer size or count: an integer at least ``minimum`` (see :func:`mibounds.validation.check_int`)."""
    return check_int(value, name, minimum=minimum)
