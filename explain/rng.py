"""Seeded randomness that leaves the caller's random state alone.

Captum draws from the process-wide generators (torch's for Shapley Value Sampling's
permutations and the quality metrics' noise, numpy's for Gradient SHAP's path points).
``seeded_rng`` seeds them on a fork and puts the caller's state back afterwards, so
explaining a batch never changes what the rest of the process draws next.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


def _cuda_index(device: torch.device) -> int | None:
    if device.type != "cuda":
        return None
    return device.index if device.index is not None else torch.cuda.current_device()


@contextmanager
def seeded_rng(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Seed torch (CPU and ``device``'s CUDA generator) and numpy on a fork.

    Args:
        seed: the seed for every generator used inside the block.
        device: the device the work runs on; only its CUDA generator is seeded and
            restored (other GPUs are not touched).

    Example:
        >>> with seeded_rng(7):
        ...     a = torch.rand(2)
        >>> with seeded_rng(7):
        ...     assert torch.equal(a, torch.rand(2))
    """
    index = _cuda_index(torch.device(device))
    numpy_state = np.random.get_state()
    with torch.random.fork_rng(devices=[] if index is None else [index]):
        torch.default_generator.manual_seed(seed)
        if index is not None:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)
