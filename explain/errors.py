"""Exceptions raised by the attribution engine. Each names the problem in plain words."""

from __future__ import annotations


class ExplainError(Exception):
    """Base class of every error the engine raises on purpose."""


class SchemaError(ExplainError):
    """A feature schema is malformed. ``errors`` maps a field path to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        first = next(iter(errors.items()))
        super().__init__(f"Invalid feature schema: {first[0]}: {first[1][0]}")


class ModelLoadError(ExplainError):
    """Weights could not be turned into a model."""


class UnsafeWeightsFormat(ModelLoadError):
    """The weights are not safetensors (a pickle, a torch ``.pt`` zip, ...)."""


class WeightsHashMismatch(ModelLoadError):
    """The weights' sha256 differs from the one recorded for the model version."""


class WeightsIncompatible(ModelLoadError):
    """The weights do not fit the architecture (missing, unexpected or misshaped tensors)."""


class ModelTooLarge(ModelLoadError):
    """The architecture and hyperparameters declare more than ``MAX_PARAMETERS``."""


class UnknownArchitecture(ModelLoadError):
    """The architecture name is not in the registry."""


class UnknownMethod(ExplainError):
    """The attribution method identifier is not one of ``explain.METHODS``."""


class BadParameter(ExplainError):
    """An attribution parameter is unknown, of the wrong type or out of range."""


class BadInput(ExplainError):
    """Rows to explain are malformed: wrong shape, non-finite values, unknown features."""
