"""Asymptotic theory (n, p -> infinity at fixed ratios), one module per family.

Each module exposes ``theory(model) -> {metric: ndarray}`` vectorised over array parameters, plus the
family's special functions (thresholds, optimal penalties, limits); see each module's docstring.
"""
from . import bbp, lasso, max_margin, random_features, ridge

__all__ = ["bbp", "lasso", "max_margin", "random_features", "ridge"]
