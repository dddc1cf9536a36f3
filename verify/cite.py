"""``overparam cite MODEL``: the papers whose results a model implements, as BibTeX.

The entries live in ``references.bib`` beside this module (one source for the CLI, the documentation's
"How to cite" page and ``CITATION.cff``); :data:`REFERENCES` maps each model (CLI name) to its keys, in
the order the theory module uses them. A test checks that every registered model has an entry and that
the file parses.
"""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from overparam.errors import ParameterError

BIB = Path(__file__).with_name("references.bib")

REFERENCES: dict[str, tuple[str, ...]] = {
    "ridge": ("hastie2022surprises", "dobriban2018high"),
    "random-features": ("mei2022generalization",),
    "max-margin": ("montanari2019generalization", "candes2020phase", "cover1965geometrical", "gardner1988space"),
    "lasso": ("bayati2012lasso", "donoho2009message", "li2021minimum"),
    "l1-transition": ("donoho2009counting", "donoho2009message"),
    "spiked-wigner": ("baik2005phase", "benaych2011eigenvalues"),
    "spiked-covariance": ("baik2005phase", "benaych2011eigenvalues"),
    "spectral-pr": ("lu2017phase", "mondelli2017fundamental", "luo2018optimal"),
    "hessian-init": ("annesi2025overparametrization", "benaych2011eigenvalues"),
    "ntk-init": ("oymak2019moderate", "elkaroui2010spectrum", "fan2020spectra", "misiakiewicz2022spectrum",
                 "lu2022equivalence", "benaych2011eigenvalues"),
    "gradient-flow": ("ali2019continuous", "hastie2022surprises", "dobriban2018high"),
    "logistic-mle": ("sur2019modern", "candes2020phase", "sur2017likelihood"),
}


@cache
def entries() -> dict[str, str]:
    """BibTeX key -> the entry's text, in file order."""
    text = BIB.read_text(encoding="utf-8")
    starts = [m.start() for m in re.finditer(r"^@\w+\{", text, flags=re.M)] + [len(text)]
    out = {}
    for a, b in zip(starts, starts[1:]):
        chunk = text[a:b].strip()
        key = chunk[chunk.index("{") + 1:chunk.index(",")].strip()
        out[key] = chunk
    return out


def keys(model: str) -> tuple[str, ...]:
    """The BibTeX keys of ``model`` (a CLI model name)."""
    if model not in REFERENCES:
        raise ParameterError("MODEL", model, "one of " + ", ".join(REFERENCES))
    return REFERENCES[model]


def cite(model: str) -> str:
    """The BibTeX entries of the papers ``model`` implements, separated by blank lines."""
    bib = entries()
    return "\n\n".join(bib[k] for k in keys(model))
