"""Write the generated documentation pages (called by ``conf.py`` at every build).

Everything here is derived from the installed package: the family registry (models, parameters with
ranges and defaults, metrics, figures), the command-line parser, ``verify/references.bib`` and the module
docstrings. A new family appears in the documentation without editing any page.
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
from pathlib import Path


def _title(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n\n"


def _block(text: str) -> str:
    return "::\n\n" + "".join(f"    {line}\n" if line.strip() else "\n" for line in text.splitlines()) + "\n"


def _csv_cell(text: object) -> str:
    return '"' + str(text).replace('"', '""').replace("|", "\\|") + '"'


def _params_table(model) -> str:
    rows = []
    for name, spec in model.params().items():
        valid = "categorical" if spec.categorical else spec.valid_text()
        rows.append(", ".join(_csv_cell(x) for x in (f"``--{name}``", spec.default, valid, spec.doc)))
    return (".. csv-table::\n   :header: parameter, default, valid values, meaning\n   :widths: 15, 15, 20, 50\n\n"
            + "".join(f"   {r}\n" for r in rows) + "\n")


def _model_section(entry) -> str:
    from overparam.verify import cite

    m = entry.model
    out = _title(f"Model ``{m.NAME}``", "-")
    out += f"Simulation size: {m.SIZE_DOC}.\n\n" + _params_table(m)
    out += "Metrics: " + ", ".join(f"``{k}``" for k in m.METRICS) + ".\n\n"
    out += "Papers: " + ", ".join(f":ref:`{k} <bib-{k}>`" for k in cite.keys(m.NAME)) + "\n\n"
    return out


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def family_page(name: str, fam) -> str:
    """One family: its models (parameters, metrics, references), figures and the three layers' docstrings."""
    out = f".. _family-{name}:\n\n" + _title(f"Family ``{name}``")
    out += "Models: " + ", ".join(f"``{e.name}``" for e in fam.models) + ".\n\n"
    for entry in fam.models:
        out += _model_section(entry)
    if fam.figures:
        out += _title("Figures", "-")
        for f in fam.figures:
            out += f"- ``overparam figure {f.name} --out figs/``: {f.doc}\n"
        out += "\n"
    for layer, what in (("theory", "Theory (n, p -> infinity)"), ("simulate", "Simulation (finite size)"),
                        ("verify", "Verification: check scenarios and figures")):
        module = f"overparam.{layer}.{name}"
        if _module_exists(module):
            out += _title(what, "-") + f".. automodule:: {module}\n   :members:\n\n"
    return out


def cli_page() -> str:
    """The command-line reference: every verb's help text, every model's parameters and metrics."""
    from overparam.verify import cli, registry

    parser = cli.build_parser()
    out = ".. _cli:\n\n" + _title("Command-line reference")
    out += "Generated from the argument parser and the model registry.\n\n"
    out += _title("overparam", "-") + _block(parser.format_help())
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for verb, p in sub.choices.items():
        out += _title(f"overparam {verb}", "-") + _block(p.format_help())
    out += _title("Models, parameters and metrics", "-")
    for entry in registry.models().values():
        m = entry.model
        out += _title(f"``{m.NAME}``", "~") + f"Simulation size: {m.SIZE_DOC}.\n\n" + _params_table(m)
        out += "Metrics: " + ", ".join(f"``{k}``" for k in m.METRICS) + ".\n\n"
    return out


def gallery_page(root: Path) -> str:
    """Every registered figure with the one command that makes it (thumbnails from docs/gallery/)."""
    from overparam.verify import registry

    out = ".. _gallery:\n\n" + _title("Gallery")
    out += ("Every figure is made by one command; each writes ``NAME.png``, ``NAME.pdf`` and ``NAME.csv`` (the "
            "plotted data, one row per point). Simulated overlays go through the results store, so a rerun is "
            "instant. ``overparam figure all --out figs/`` makes them all.\n\n")
    for name, f in registry.figures().items():
        out += _title(name, "-") + f"{f.doc}\n\n.. code-block:: console\n\n   overparam figure {name} --out figs/\n\n"
        thumb = root / "docs" / "gallery" / f"{name}.png"
        if thumb.exists():
            out += f".. image:: ../gallery/{name}.png\n   :width: 480px\n   :alt: {name}\n\n"
    return out


def cite_page() -> str:
    """How to cite: the software, then per model the papers it implements (full BibTeX below)."""
    from overparam.verify import cite, registry

    out = ".. _cite:\n\n" + _title("How to cite")
    out += ("Cite overparam with the metadata in ``CITATION.cff`` and, for every model you use, the papers whose "
            "results it implements. ``overparam cite MODEL`` prints their BibTeX.\n\n")
    out += _title("Papers per model", "-")
    for name in registry.models():
        out += f"- ``{name}``: " + ", ".join(f":ref:`{k} <bib-{k}>`" for k in cite.keys(name)) + "\n"
    out += "\n" + _title("BibTeX", "-")
    for key, text in cite.entries().items():
        out += f".. _bib-{key}:\n\n``{key}``\n\n.. code-block:: bibtex\n\n"
        out += "".join(f"   {line}\n" for line in text.splitlines()) + "\n"
    return out


def notebooks(root: Path, gen: Path) -> str:
    """Copy the committed notebooks (with their outputs) into the source tree; return their toctree."""
    target = gen / "notebooks"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    names = []
    for nb in sorted((root / "notebooks").glob("*.ipynb")):
        shutil.copy(nb, target / nb.name)
        names.append(f"notebooks/{nb.stem}")
    return _title("Notebooks") + ".. toctree::\n   :maxdepth: 1\n\n" + "".join(f"   {n}\n" for n in names)


def write_all(gen: Path, root: Path) -> None:
    from overparam.verify import registry

    fams = registry.families()
    pages = {f"family_{name}": family_page(name, fam) for name, fam in fams.items()}
    pages["families"] = _title("Families") + ".. toctree::\n   :maxdepth: 2\n\n" + "".join(
        f"   family_{name}\n" for name in fams)
    pages["cli"] = cli_page()
    pages["gallery"] = gallery_page(root)
    pages["cite"] = cite_page()
    pages["notebooks"] = notebooks(root, gen)
    for name, text in pages.items():
        path = gen / f"{name}.rst"
        if not path.exists() or path.read_text() != text:  # unchanged pages keep Sphinx's cache valid
            path.write_text(text)
