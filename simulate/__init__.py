"""Finite-size Monte Carlo with the exact estimators, one module per family.

Each module exposes ``replicate(model, sizes, rng) -> {metric: value}`` (one replicate from a
``numpy.random.Generator``). This package never imports :mod:`overparam.theory`.
"""
from . import bbp, lasso, max_margin, random_features, ridge

__all__ = ["bbp", "lasso", "max_margin", "random_features", "ridge"]
