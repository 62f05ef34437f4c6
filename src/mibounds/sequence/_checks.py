"""Input checks for the sequence objectives, in the package's message style (private)."""

from __future__ import annotations

import torch
from torch import Tensor

from mibounds.sequence.graph import LabelGraph


def check_emissions(emissions: Tensor, graph: LabelGraph | None, lengths: Tensor | None) -> Tensor:
    """Check ``emissions`` ``[B, T, L]`` (and ``lengths`` ``[B]``); return the lengths as a long tensor.

    Raises:
        TypeError: If emissions are not a floating-point tensor or lengths are not integers.
        ValueError: On a wrong shape, a label count that differs from the graph's, or lengths
            outside ``[1, T]``.
    """
    if not isinstance(emissions, Tensor):
        raise TypeError(f"emissions must be a torch.Tensor, got {type(emissions).__name__}")
    if not torch.is_floating_point(emissions):
        raise TypeError(f"emissions must be floating point, got dtype {emissions.dtype}; call .float()")
    if emissions.dim() != 3 or emissions.shape[0] == 0 or emissions.shape[1] == 0:
        raise ValueError(
            f"emissions must be [B, T, L] (batch, frames, labels) with B, T >= 1, got shape "
            f"{tuple(emissions.shape)}; add a batch axis to one sequence with .unsqueeze(0)"
        )
    batch, frames, n_labels = emissions.shape
    if graph is not None:
        check_graph_labels(n_labels, graph)
    if lengths is None:
        return torch.full((batch,), frames, dtype=torch.long, device=emissions.device)
    if not isinstance(lengths, Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool or lengths.is_complex():
        raise TypeError(f"lengths must hold integers, got dtype {lengths.dtype}; call .long()")
    if tuple(lengths.shape) != (batch,):
        raise ValueError(f"lengths must have one entry per sequence, shape [{batch}], got {tuple(lengths.shape)}")
    lengths = lengths.to(device=emissions.device, dtype=torch.long)
    if bool(((lengths < 1) | (lengths > frames)).any()):
        bad = lengths[(lengths < 1) | (lengths > frames)]
        raise ValueError(
            f"lengths must lie in [1, T] = [1, {frames}], got {bad.tolist()[:5]}; each sequence needs at "
            "least one frame and at most the padded length of emissions"
        )
    return lengths


def check_graph_labels(n_labels: int, graph: LabelGraph, emissions: str = "emissions", name: str = "the graph") -> None:
    """Check that scores with ``n_labels`` labels per frame index the labels of ``graph``."""
    if n_labels != graph.num_labels:
        raise ValueError(
            f"{emissions} have {n_labels} label scores per frame but {name} has {graph.num_labels} labels; "
            f"the last axis of {emissions} must index {name}'s labels"
        )


def check_like_emissions(value: object, emissions: Tensor, name: str) -> Tensor:
    """Check that ``value`` is a tensor of the shape of ``emissions`` (a second set of scores)."""
    if not isinstance(value, Tensor) or value.shape != emissions.shape:
        got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(f"{name} must have the shape of emissions, {tuple(emissions.shape)}, got {got}")
    return value


def check_labels(labels: Tensor, emissions: Tensor, lengths: Tensor) -> Tensor:
    """Check label sequences ``[B, T]`` against ``emissions`` ``[B, T, L]``; return them as long.

    Entries at padded frames are not checked and are replaced by 0.
    """
    if not isinstance(labels, Tensor):
        labels = torch.as_tensor(labels)
    if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.is_complex():
        raise TypeError(f"labels must hold integer label indices, got dtype {labels.dtype}; call .long()")
    if tuple(labels.shape) != tuple(emissions.shape[:2]):
        raise ValueError(
            f"labels must be [B, T] = {list(emissions.shape[:2])} (one label per frame of emissions), "
            f"got shape {tuple(labels.shape)}"
        )
    labels = labels.to(device=emissions.device, dtype=torch.long)
    valid = frame_mask(lengths, labels.shape[1])
    n_labels = emissions.shape[2]
    bad = valid & ((labels < 0) | (labels >= n_labels))
    if bool(bad.any()):
        raise ValueError(
            f"labels hold values outside [0, {n_labels}) at valid frames (e.g. {labels[bad][:5].tolist()}); "
            "labels index the last axis of emissions"
        )
    return torch.where(valid, labels, torch.zeros_like(labels))


def frame_mask(lengths: Tensor, frames: int) -> Tensor:
    """``[B, T]`` bool, True at the valid frames ``t < lengths[b]``."""
    return torch.arange(frames, device=lengths.device) < lengths[:, None]


def masked_emissions(emissions: Tensor, lengths: Tensor) -> Tensor:
    """``emissions`` with padded frames set to 0 (so NaN or inf padding cannot leak)."""
    if bool((lengths == emissions.shape[1]).all()):
        return emissions
    return emissions.masked_fill(~frame_mask(lengths, emissions.shape[1]).unsqueeze(-1), 0.0)
