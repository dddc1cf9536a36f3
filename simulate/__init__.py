"""Finite-size Monte Carlo with the exact estimators, one module per family.

Each module exposes ``replicate(model, sizes, rng) -> {metric: value}`` (one replicate from a
``numpy.random.Generator``). This package never imports :mod:`overparam.theory`.
"""
import importlib
import sys
import types

__all__ = ["bbp", "gradient_flow", "lasso", "logistic", "max_margin", "ntk", "random_features", "ridge"]


class _Callable(types.ModuleType):
    """This package is also the top-level API function: ``overparam.simulate("ridge", n=..., reps=...,
    gamma=...)`` runs :func:`overparam.verify.api.simulate`."""

    def __call__(self, *args, **kwargs):
        from overparam.verify.api import simulate

        return simulate(*args, **kwargs)


sys.modules[__name__].__class__ = _Callable


def __getattr__(name: str):
    """Family modules are imported on first use (``overparam.simulate.ridge``), keeping ``import overparam`` light."""
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
