"""Verification: the family registry, the replicate runner and results store, comparison statistics,
``check``, figures and the command line.

Submodules and the names below are imported on first use, so ``overparam --help`` and ``curve`` do not pay
for scipy.stats, sqlite or matplotlib.
"""
import importlib

_SUBMODULES = ("check", "figures", "registry", "runner", "stats", "store")
_NAMES = {"run_check": ("check", "run_check"), "families": ("registry", "families"),
          "figure_registry": ("registry", "figures"), "model_entry": ("registry", "model_entry"),
          "RunOptions": ("runner", "RunOptions"), "run": ("runner", "run")}

__all__ = [*_SUBMODULES, *_NAMES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        module, attr = _NAMES[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
