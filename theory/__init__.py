"""Asymptotic theory (n, p -> infinity at fixed ratios), one module per family.

Each module exposes ``theory(model) -> {metric: ndarray}`` vectorised over array parameters, plus the
family's special functions (thresholds, optimal penalties, limits); see each module's docstring.
"""
import importlib

__all__ = ["bbp", "gradient_flow", "lasso", "logistic", "max_margin", "ntk", "random_features", "ridge"]


def __getattr__(name: str):
    """Family modules are imported on first use (``overparam.theory.ridge``), keeping ``import overparam`` light."""
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
