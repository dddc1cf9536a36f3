"""overparam: exact asymptotic risk curves of overparameterized learning, checked against simulation.

The root package holds what every layer shares: model specifications (:mod:`overparam.models`),
their categorical parameters (:mod:`overparam.choices`), error types and the version.
Layers: :mod:`overparam.theory` (n, p -> infinity limits), :mod:`overparam.simulate` (finite-size Monte
Carlo, independent of the theory) and :mod:`overparam.verify` (comparison, figures, CLI).
"""
from importlib.metadata import PackageNotFoundError, version as _version

from .errors import ConvergenceError, OverparamError, ParameterError, StoreError
from .models import (MODELS, HessianInit, L1Transition, Lasso, MaxMargin, Model, RandomFeatures, Ridge,
                     SpectralPR, SpikedCovariance, SpikedWigner)

try:
    __version__ = _version("overparam")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["ConvergenceError", "OverparamError", "ParameterError", "StoreError", "MODELS", "Model", "Ridge",
           "RandomFeatures", "MaxMargin", "Lasso", "L1Transition", "SpikedWigner", "SpikedCovariance",
           "SpectralPR", "HessianInit", "__version__"]
