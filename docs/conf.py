"""Sphinx configuration of the overparam documentation.

Build (offline; what the test suite runs, warnings as errors):

    sphinx-build -W -b html docs docs/_build/html

The family pages, the CLI reference, the gallery and the citation page are generated at build time from
the package itself (the registry, the model classes, the argument parser, ``verify/references.bib`` and the
module docstrings), so the documentation has one source of truth: the code.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
GEN = DOCS / "_generated"
sys.path.insert(0, str(DOCS))

import generate  # noqa: E402  (docs/generate.py: writes the pages below into docs/_generated)

project = "overparam"
author = "The overparam developers"
copyright = "the overparam developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "gallery/*.txt"]
nb_execution_mode = "off"  # notebooks are committed with their outputs (and executed by the test suite)
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_numpy_docstring = True
napoleon_google_docstring = True
suppress_warnings = ["myst.header"]
html_theme = "alabaster"
html_theme_options = {"page_width": "1240px", "sidebar_width": "230px"}
highlight_language = "none"  # literal blocks are plain-text equations, not code
html_static_path: list[str] = []


_BULLET = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _plain(line: str) -> bool:
    """A paragraph line (not a list item, field, directive or table row)."""
    s = line.lstrip()
    return bool(s) and not _BULLET.match(line) and not s.startswith((":", "..", "+-", "| "))


def _normalise(app, what, name, obj, options, lines: list[str]) -> None:
    """Make the plain-text docstrings valid reStructuredText without rewriting them.

    The docstrings set equations off by indentation (often without blank lines) in plain-text notation,
    and write absolute values and norms as |x| and ||x|| (a bar starts a substitution in reST). An indented
    block after a paragraph becomes a literal (monospace) block, blank lines are put wherever the
    indentation of two text lines changes (bullet continuations excepted) and before a list that follows a
    paragraph, and bars outside literal blocks and explicit math are escaped."""
    out: list[str] = []
    verbatim_at = None  # indentation of the line that opened a literal block or directive
    last = -1  # index in ``out`` of the last non-blank line
    for line in lines:
        if verbatim_at is not None and line.strip() and _indent(line) <= verbatim_at:
            verbatim_at = None
        if verbatim_at is None and line.strip():
            prev = out[last] if last >= 0 else ""
            adjacent = last == len(out) - 1
            bullet = _BULLET.match(prev)
            if _indent(line) > _indent(prev) and _plain(prev) and not prev.rstrip().endswith("::"):
                out[last] = prev + (":" if prev.endswith(":") else " ::")
                verbatim_at = _indent(prev)
                if adjacent:
                    out.append("")
            elif adjacent and prev.strip() and _indent(line) != _indent(prev):
                if not (bullet is not None and _indent(line) == len(bullet.group(0))):
                    out.append("")
            elif adjacent and _BULLET.match(line) and _plain(prev) and _indent(line) == _indent(prev):
                out.append("")
        if verbatim_at is None and ":math:" not in line:
            line = re.sub(r"(?<!\\)\|", r"\\|", line)
        out.append(line)
        if line.strip():
            last = len(out) - 1
        if verbatim_at is None and line.rstrip().endswith("::"):
            verbatim_at = _indent(line)
    lines[:] = _split_math(out)


def _split_math(lines: list[str]) -> list[str]:
    """One ``.. math::`` directive per equation: Sphinx sets the blank-line-separated equations of one
    directive as rows of an ``aligned`` environment without alignment points, which right-aligns them."""
    out: list[str] = []
    at = None  # indentation of the open math directive
    for line in lines:
        if at is not None and line.strip() and _indent(line) <= at:
            at = None
        if at is not None and line.strip() and out and not out[-1].strip() and out[-2].strip() \
                and not out[-2].strip().startswith(".. math::"):
            out += [" " * at + ".. math::", ""]
        out.append(line)
        if line.strip() == ".. math::":
            at = _indent(line)
    return out


def setup(app) -> None:
    GEN.mkdir(exist_ok=True)
    generate.write_all(GEN, ROOT)
    app.connect("autodoc-process-docstring", _normalise, priority=900)


