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
from .models import LogisticMLE
from .models import GradientFlow
from .models import NtkInit

try:
    __version__ = _version("overparam")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["ConvergenceError", "OverparamError", "ParameterError", "StoreError", "MODELS", "Model", "Ridge",
           "RandomFeatures", "MaxMargin", "Lasso", "L1Transition", "SpikedWigner", "SpikedCovariance",
           "SpectralPR", "HessianInit", "LogisticMLE", "GradientFlow", "NtkInit", "__version__"]

#: The command line's verbs as functions (overparam.verify.api), imported on first use so that
#: ``import overparam`` stays light. ``overparam.simulate`` is also the simulator subpackage: calling it
#: runs :func:`overparam.verify.api.simulate` (see simulate/__init__.py).
_API = ("curve", "simulate", "check", "figure")


def __getattr__(name: str):
    if name in _API:
        import importlib

        if name == "simulate":
            return importlib.import_module(f"{__name__}.simulate")
        return getattr(importlib.import_module(f"{__name__}.verify.api"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
