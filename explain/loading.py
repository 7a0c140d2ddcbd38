"""Safe model loading: safetensors only, checked against the recorded sha256.

Uploaded bytes never reach ``torch.load`` or any other unpickler.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save
from torch import nn

from explain.errors import UnsafeWeightsFormat, WeightsHashMismatch, WeightsIncompatible
from explain.models import build_model
from explain.schema import FeatureSchema


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _refuse_known_unsafe_formats(data: bytes) -> None:
    if data[:2] == b"PK":
        raise UnsafeWeightsFormat(
            "The weights file is a zip archive (torch.save .pt/.pth format, which "
            "contains a pickle); only safetensors files are accepted."
        )
    if (
        data[:1] == b"\x80"
        and len(data) > 1
        and data[1:2] in {bytes([p]) for p in range(2, 6)}
    ):
        raise UnsafeWeightsFormat(
            "The weights file is a Python pickle; pickles can run code when loaded "
            "and are refused. Export the weights with safetensors."
        )


def weights_to_tensors(data: bytes) -> dict[str, torch.Tensor]:
    """Parse safetensors bytes into a state dict, refusing every other format."""
    _refuse_known_unsafe_formats(data)
    if len(data) < 8:
        raise UnsafeWeightsFormat(
            "The weights file is too short to be a safetensors file."
        )
    try:
        return safetensors_load(data)
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as exc:
        raise UnsafeWeightsFormat(
            f"The weights file is not a valid safetensors file: {exc}"
        ) from exc


def model_to_safetensors(model: nn.Module) -> bytes:
    """Serialise a model's parameters (not its schema buffers) as safetensors bytes."""
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    return safetensors_save(state)


def load_model(
    *,
    architecture: str,
    schema: FeatureSchema,
    hyperparameters: dict[str, Any] | None,
    weights: bytes,
    expected_sha256: str | None,
    device: torch.device | str = "cpu",
) -> nn.Module:
    """Build the architecture and load safetensors weights into it, in eval mode.

    Args:
        architecture: registry name, e.g. ``"mlp"``.
        schema: parsed feature schema.
        hyperparameters: architecture hyperparameters.
        weights: the safetensors bytes.
        expected_sha256: the recorded hash; a mismatch raises ``WeightsHashMismatch``.
            ``None`` skips the check (only when the hash is being recorded now).
        device: where to put the model.

    Raises:
        UnsafeWeightsFormat, WeightsHashMismatch, WeightsIncompatible, UnknownArchitecture.

    Example:
        >>> model = load_model(architecture="mlp", schema=schema, hyperparameters={},
        ...                    weights=data, expected_sha256=sha256_hex(data))
    """
    if expected_sha256 is not None and sha256_hex(weights) != expected_sha256.lower():
        raise WeightsHashMismatch(
            f"The weights' sha256 {sha256_hex(weights)} does not match the recorded "
            f"{expected_sha256}; the file was changed or replaced."
        )
    tensors = weights_to_tensors(weights)
    model = build_model(architecture, schema, hyperparameters)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    misshaped = sorted(
        f"{k} (expected {tuple(expected[k].shape)}, got {tuple(tensors[k].shape)})"
        for k in set(expected) & set(tensors)
        if expected[k].shape != tensors[k].shape
    )
    problems = []
    if missing:
        problems.append(f"missing tensors: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors: {', '.join(unexpected)}")
    if misshaped:
        problems.append(f"wrong shapes: {', '.join(misshaped)}")
    if problems:
        raise WeightsIncompatible(
            f"The weights do not fit architecture '{architecture}' with this feature "
            f"schema ({schema.input_width} input columns): " + "; ".join(problems) + "."
        )
    non_finite = [
        k
        for k, v in tensors.items()
        if v.is_floating_point() and not torch.isfinite(v).all()
    ]
    if non_finite:
        raise WeightsIncompatible(
            f"The weights contain NaN or infinite values in: {', '.join(non_finite)}."
        )
    model.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()})
    return model.to(device).eval()


@torch.no_grad()
def predict_proba(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Probability of the scored (positive) class for each row."""
    return torch.sigmoid(model(inputs))
