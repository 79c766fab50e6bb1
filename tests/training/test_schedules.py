"""The learning-rate schedule: warm-up, then constant or cosine decay, by hand."""

import pytest

from vaekit.errors import ConfigError
from vaekit.training import learning_rate


def test_learning_rate_schedules_by_hand():
    assert learning_rate(0, 100, 1e-3, "constant", warmup_steps=4) == pytest.approx(2.5e-4)
    assert learning_rate(50, 100, 1e-3, "constant") == 1e-3
    assert learning_rate(50, 100, 1e-3, "cosine") == pytest.approx(5e-4)
    assert learning_rate(100, 100, 1e-3, "cosine") == pytest.approx(0.0, abs=1e-12)


def test_an_unknown_schedule_is_refused_not_taken_as_constant():
    with pytest.raises(ConfigError, match="unknown --lr-schedule 'cosin'; choose one of: constant, cosine"):
        learning_rate(10, 100, 1e-3, "cosin")
