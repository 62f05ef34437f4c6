from __future__ import annotations

import numpy as np
import pytest

from mibounds import tasks


def test_default_staircase_is_poole_et_al() -> None:
    schedule = tasks.mi_schedule()
    assert schedule.shape == (20_000,) and schedule.dtype == np.float64
    for level, value in enumerate((2.0, 4.0, 6.0, 8.0, 10.0)):
        assert (schedule[level * 4000 : (level + 1) * 4000] == value).all()


def test_custom_staircase_keeps_the_given_order() -> None:
    np.testing.assert_array_equal(tasks.mi_schedule((1.5, 0, 3), steps_per_level=2), [1.5, 1.5, 0, 0, 3, 3])


@pytest.mark.parametrize(
    ("levels", "steps", "message"),
    [
        ((), 10, "levels must be a non-empty sequence"),
        ((1, -2), 10, r"levels must be finite and >= 0 nats, got \[-2.0\]"),
        ((1, float("nan")), 10, "levels must be finite"),
        ((1, 2), 0, "steps_per_level must be an integer >= 1, got 0"),
        ((1, 2), 2.5, "steps_per_level must be an integer >= 1, got 2.5"),
    ],
)
def test_schedule_errors(levels: tuple[float, ...], steps: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tasks.mi_schedule(levels, steps_per_level=steps)
