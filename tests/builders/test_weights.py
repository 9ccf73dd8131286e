"""`builders.weights.load_strict`: pretrained weights go in whole or not at all, with one error naming what
does not fit (never a random weight, never torch's size-mismatch traceback)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from wavlink.builders.weights import load_strict


def test_load_strict_copies_matching_weights() -> None:
    source, target = nn.Linear(3, 2), nn.Linear(3, 2)
    load_strict(target, source.state_dict(), "layer")
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), target.state_dict().values()))


@pytest.mark.parametrize(("state", "message"), [
    ({"weight": torch.zeros(2, 3)}, r"1 missing, 0 unexpected, 0 mis-shaped\): missing=\['bias'\]"),
    ({"weight": torch.zeros(2, 3), "bias": torch.zeros(2), "extra": torch.zeros(1)}, r"unexpected=\['extra'\]"),
    ({"weight": torch.zeros(2, 4), "bias": torch.zeros(2)}, r"mis-shaped=\['weight: checkpoint \(2, 4\) vs model \(2, 3\)'\]"),
])
def test_load_strict_refuses_what_does_not_fit_and_leaves_the_model_alone(state, message) -> None:
    target = nn.Linear(3, 2)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(ValueError, match="text encoder from x: weights do not match the model .*" + message):
        load_strict(target, state, "text encoder from x")
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())
