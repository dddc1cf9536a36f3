"""Verification: the family registry, the replicate runner and results store, comparison statistics,
``check``, figures and the command line."""
from . import check, figures, registry, runner, stats, store
from .check import run_check
from .registry import families, figures as figure_registry, model_entry
from .runner import RunOptions, run

__all__ = ["check", "figures", "registry", "runner", "stats", "store", "run_check", "families",
           "figure_registry", "model_entry", "RunOptions", "run"]
