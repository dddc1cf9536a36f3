"""The documentation builds offline with warnings as errors; the citation data parses and is complete."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from overparam.verify import cite, registry
from overparam.verify.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_docs_build_without_warnings(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(tmp_path / "html")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    html = tmp_path / "html"
    for page in ("index", "verdict", "api", "_generated/cli", "_generated/gallery", "_generated/cite"):
        assert (html / f"{page}.html").exists(), page
    for name in registry.families():
        assert (html / "_generated" / f"family_{name}.html").exists(), name
    cli_text = (html / "_generated" / "cli.html").read_text()
    for model in registry.models():
        assert model in cli_text


def test_bibliography_parses_and_covers_every_model():
    import bibtexparser

    library = bibtexparser.parse_string(cite.BIB.read_text(encoding="utf-8"))
    assert not library.failed_blocks
    parsed = {e.key for e in library.entries}
    assert parsed == set(cite.entries())
    for model in registry.models():
        assert cite.keys(model), model
        assert set(cite.keys(model)) <= parsed, model
    for entry in library.entries:
        assert {"author", "title", "year"} <= set(entry.fields_dict), entry.key


def test_cite_prints_bibtex(capsys):
    assert main(["cite", "ridge"]) == 0
    out = capsys.readouterr().out
    assert "@article{hastie2022surprises," in out and "1903.08560" in out


def test_cite_unknown_model_is_bad_input(capsys):
    assert main(["cite", "nonsense"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MODEL" in err[0]


def test_citation_cff_is_valid_yaml():
    import yaml

    data = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert data["cff-version"].startswith("1.2") and data["title"] and data["authors"]


def _math_in(doc: str) -> list[str]:
    """The LaTeX of every ``.. math::`` block (one entry per blank-line-separated equation) and ``:math:`` role."""
    import re
    import textwrap

    found = re.findall(r":math:`([^`]+)`", doc)
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != ".. math::":
            continue
        indent = len(line) - len(line.lstrip())
        body = []
        for nxt in lines[i + 1:]:
            if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                break
            body.append(nxt)
        found += [eq.strip() for eq in textwrap.dedent("\n".join(body)).split("\n\n") if eq.strip()]
    return found


def _docstrings(module) -> list[str]:
    import inspect

    docs = [module.__doc__ or ""]
    for _, obj in inspect.getmembers(module, lambda o: inspect.isfunction(o) or inspect.isclass(o)):
        if obj.__module__ == module.__name__ and obj.__doc__:
            docs.append(obj.__doc__)
    return docs


def test_docstring_equations_are_valid_latex():
    """Displayed equations are ``.. math::`` LaTeX (rendered by MathJax on the site); each one must parse with
    matplotlib's mathtext, a strict subset of what MathJax accepts, so a broken equation fails here offline.
    Every family's theory module displays its equations that way."""
    import importlib

    from matplotlib.mathtext import MathTextParser

    parser = MathTextParser("path")
    for name in registry.families():
        for layer in ("theory", "simulate", "verify"):
            module = importlib.import_module(f"overparam.{layer}.{name}")
            equations = [eq for doc in _docstrings(module) for eq in _math_in(doc)]
            if layer == "theory":
                assert equations, f"{module.__name__}: no .. math:: equations"
            for eq in equations:
                try:
                    parser.parse(f"${' '.join(eq.split())}$")
                except Exception as exc:  # noqa: BLE001 - report which equation fails and why
                    raise AssertionError(f"{module.__name__}: {eq!r}: {str(exc).splitlines()[-1]}") from None
