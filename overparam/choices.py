"""Categorical parameters shared by theory and simulation.

* :class:`Spectrum` (ridge ``spectrum``): the population covariance eigenvalues, as a spectral measure
  (atoms, weights) for the theory and as a list of p eigenvalues for a simulation.
* :class:`Activation` (random-features ``activation``): the function and its Gaussian moments
  mu0 = E s(G), mu1 = E G s(G), mustar^2 = E s(G)^2 - mu0^2 - mu1^2, G ~ N(0, 1).
* :class:`Labels` (max-margin ``labels``): the label model and its parameter.
* :class:`Preprocessing` (spectral-pr ``preprocessing``): the function T(y; alpha).

Each parser accepts its command-line spelling (or the object itself) and raises
:class:`~overparam.errors.ParameterError` on anything else.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import ParameterError

# ----------------------------------------------------------------------------------------- spectrum
SPECTRUM_FORMS = "isotropic, two-point:a,b[,w], power-law:k,p or file:PATH"


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Population spectrum. ``atoms``/``weights`` are the spectral measure H (weights sum to 1);
    ``eigenvalues`` is the fixed list for ``power-law`` and ``file`` spectra (None otherwise)."""

    label: str
    atoms: np.ndarray
    weights: np.ndarray
    eigenvalues: np.ndarray | None = None
    fraction_a: float | None = None  # two-point: fraction of eigenvalues at atoms[0]

    @property
    def isotropic(self) -> bool:
        return self.label == "isotropic"

    def for_dimension(self, p: int) -> np.ndarray:
        """The p eigenvalues a simulation of dimension p uses."""
        if self.eigenvalues is not None:
            if p != len(self.eigenvalues):
                raise ParameterError("p", p, f"{len(self.eigenvalues)} (the length of spectrum {self.label})")
            return self.eigenvalues.copy()
        if self.fraction_a is None:
            return np.ones(p)
        k = int(round(self.fraction_a * p))
        return np.concatenate([np.full(k, self.atoms[0]), np.full(p - k, self.atoms[1])])


def _measure(eigs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    atoms, counts = np.unique(eigs, return_counts=True)
    return atoms, counts / counts.sum()


def _floats(name: str, text: str, n: tuple[int, ...], form: str, shown: str = "") -> list[float]:
    try:
        vals = [float(t) for t in text.split(",")]
    except ValueError:
        vals = []
    if len(vals) not in n or not all(np.isfinite(vals)):
        raise ParameterError(name, shown or text, form)
    return vals


def parse_spectrum(value: Any) -> Spectrum:
    """``isotropic`` | ``two-point:a,b`` | ``two-point:a,b,w`` | ``power-law:k,p`` | ``file:PATH``."""
    if isinstance(value, Spectrum):
        return value
    text = str(value).strip()
    kind, _, arg = text.partition(":")
    if text == "isotropic":
        return Spectrum("isotropic", np.ones(1), np.ones(1))
    if kind == "two-point":
        form = "two-point:a,b or two-point:a,b,w with a, b >= 0 not both 0 and w in (0, 1)"
        v = _floats("spectrum", arg, (2, 3), form, text)
        a, b, w = (v + [0.5])[:3]
        if a < 0 or b < 0 or a + b == 0 or not 0 < w < 1:
            raise ParameterError("spectrum", text, form)
        if a == b:
            return Spectrum(text, np.array([a]), np.ones(1), fraction_a=1.0)
        return Spectrum(text, np.array([a, b]), np.array([w, 1 - w]), fraction_a=w)
    if kind == "power-law":
        form = "power-law:k,p with k >= 0 and p an integer >= 1"
        k, p = _floats("spectrum", arg, (2,), form, text)
        if k < 0 or p < 1 or p != int(p):
            raise ParameterError("spectrum", text, form)
        eigs = np.arange(1, int(p) + 1, dtype=float) ** (-k)
        eigs /= eigs.mean()
        return Spectrum(text, *_measure(eigs), eigenvalues=eigs)
    if kind == "file":
        return _spectrum_file(text, Path(arg))
    raise ParameterError("spectrum", text, SPECTRUM_FORMS)


def _text_table(path: Path) -> np.ndarray:
    """Numbers of a text file: a 1-D list (one line, or one number per line), or a 2-D table when every
    line holds the same count (> 1) of numbers."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    values = np.array([x for row in rows for x in row], dtype=float)
    if len(rows) > 1 and all(len(row) == len(rows[0]) > 1 for row in rows):
        return values.reshape(len(rows), -1)
    return values


def _spectrum_file(text: str, path: Path) -> Spectrum:
    form = "file:PATH of a .npy or whitespace-separated text file of eigenvalues >= 0, not all 0"
    try:
        eigs = np.asarray(np.load(path) if path.suffix == ".npy" else _text_table(path), dtype=float)
    except (OSError, ValueError) as exc:
        raise ParameterError("spectrum", text, form, f"cannot read: {exc}".splitlines()[0]) from None
    if eigs.ndim != 1:  # e.g. a covariance matrix: its entries are not its eigenvalues
        raise ParameterError("spectrum", text, form, f"the file holds a {eigs.ndim}-D array of shape {eigs.shape}; "
                             "for a covariance matrix C save numpy.linalg.eigvalsh(C)")
    if eigs.size == 0 or not np.all(np.isfinite(eigs)) or np.any(eigs < 0) or not np.any(eigs > 0):
        raise ParameterError("spectrum", text, form)
    return Spectrum(text, *_measure(eigs), eigenvalues=eigs)


# --------------------------------------------------------------------------------------- activation
ACTIVATION_FORMS = ("relu, tanh, erf, or hermite coefficients mu0,mu1,mustar with mustar > 0 (mustar > 1e-12 "
                    "and |mu1| <= 1e12 mustar) and |mu0|, mustar <= 1e100")
#: Largest |hermite coefficient| accepted (squares and products of moments stay finite).
_MU_MAX = 1e100


@dataclass(frozen=True, eq=False)
class Activation:
    """An activation s and its Gaussian moments (mu0, mu1, mustar)."""

    label: str
    func: Callable[[np.ndarray], np.ndarray]
    mu0: float
    mu1: float
    mustar: float


def gaussian_moments(func: Callable[[np.ndarray], np.ndarray], nodes: int = 200) -> tuple[float, float, float]:
    """(mu0, mu1, mustar) of ``func`` by probabilists' Gauss-Hermite quadrature with ``nodes`` nodes."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    f = np.asarray(func(x), dtype=float)
    mu0, mu1, m2 = w @ f, w @ (x * f), w @ (f * f)
    return float(mu0), float(mu1), float(np.sqrt(max(m2 - mu0**2 - mu1**2, 0.0)))


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy import special  # imported on use: parsing a specification stays scipy-free

    return special.erf(x)


def _hermite_poly(mu0: float, mu1: float, mustar: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: mu0 + mu1 * x + mustar * (x * x - 1.0) / np.sqrt(2.0)


def parse_activation(value: Any) -> Activation:
    """``relu`` | ``tanh`` | ``erf`` | ``mu0,mu1,mustar`` | an Activation | a Python callable.

    Hermite input is realised (for simulation) as s(x) = mu0 + mu1 x + mustar (x^2 - 1)/sqrt(2),
    which has exactly these moments. A callable gets its moments by Gauss-Hermite quadrature.
    """
    if isinstance(value, Activation):
        return value
    if callable(value):
        mu0, mu1, mustar = gaussian_moments(value)
        act = Activation(getattr(value, "__name__", "callable"), value, mu0, mu1, mustar)
    elif value == "relu":
        act = Activation("relu", _relu, 1 / np.sqrt(2 * np.pi), 0.5, np.sqrt(0.25 - 1 / (2 * np.pi)))
    elif value == "erf":
        act = Activation("erf", _erf, 0.0, 2 / np.sqrt(3 * np.pi),
                         np.sqrt(2 / np.pi * np.arcsin(2 / 3) - 4 / (3 * np.pi)))
    elif value == "tanh":
        act = Activation("tanh", np.tanh, *gaussian_moments(np.tanh))
    else:
        mu0, mu1, mustar = _floats("activation", str(value), (3,), ACTIVATION_FORMS)
        act = Activation(str(value), _hermite_poly(mu0, mu1, mustar), mu0, mu1, mustar)
    if not act.mustar > 1e-12:
        raise ParameterError("activation", act.label, ACTIVATION_FORMS,
                             f"mustar = {act.mustar:g}: a linear activation is not covered")
    if not (max(abs(act.mu0), act.mustar) <= _MU_MAX and abs(act.mu1) <= 1e12 * act.mustar):
        raise ParameterError("activation", act.label, ACTIVATION_FORMS)
    return act


def split_activations(text: str) -> list[str]:
    """A comma list of activations, where each run of numbers is read as hermite triples:
    ``relu,tanh`` -> [relu, tanh]; ``tanh,0.1,0.5,0.3`` -> [tanh, "0.1,0.5,0.3"]."""
    return _split_number_runs(text, 3)


def _split_number_runs(text: str, run: int | None) -> list[str]:
    """Comma-separated names and numbers: numbers are joined into one item every ``run`` of them
    (``run`` None: each maximal run of consecutive numbers is one item)."""
    out: list[str] = []
    numbers: list[str] = []
    for token in (t.strip() for t in text.split(",") if t.strip()):
        try:
            float(token)
        except ValueError:
            if numbers and run is None:
                out.append(",".join(numbers))
                numbers = []
            out.append(token)
            continue
        numbers.append(token)
        if len(numbers) == run:
            out.append(",".join(numbers))
            numbers = []
    return out + ([",".join(numbers)] if numbers else [])


# ------------------------------------------------------------------------------------------- labels
LABEL_FORMS = "noiseless, flip:q with 0 <= q < 1/2, logistic:beta with beta > 0, or purenoise"


@dataclass(frozen=True)
class Labels:
    """Label model: ``kind`` in noiseless/flip/logistic/purenoise, ``value`` = q (flip) or beta (logistic)."""

    kind: str
    value: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.value:.15g}" if self.kind in ("flip", "logistic") else self.kind


def parse_labels(value: Any) -> Labels:
    if isinstance(value, Labels):
        return value
    text = str(value).strip()
    kind, _, arg = text.partition(":")
    if text in ("noiseless", "purenoise"):
        return Labels(text, 0.0 if text == "noiseless" else 0.5)
    if kind in ("flip", "logistic"):
        (x,) = _floats("labels", arg, (1,), LABEL_FORMS, text)
        if (kind == "flip" and not 0 <= x < 0.5) or (kind == "logistic" and not x > 0):
            raise ParameterError("labels", text, LABEL_FORMS)
        return Labels(kind, x)
    raise ParameterError("labels", text, LABEL_FORMS)


# ------------------------------------------------------------------------------------------- priors
def parse_prior(value: Any) -> str:
    if value in ("gauss", "rademacher"):
        return value
    raise ParameterError("prior", value, "gauss or rademacher")


# ------------------------------------------------------------------------------------ preprocessing
PREPROCESSING_FORMS = "identity, truncated:c with c > 0, mondelli-montanari or luo-alghamdi-lu"


@dataclass(frozen=True, eq=False)
class Preprocessing:
    """Spectral-method preprocessing T(y; alpha). ``kind`` is identity, truncated, mondelli-montanari,
    luo-alghamdi-lu or callable; ``c`` is the truncation level; ``func`` a user callable T(y)."""

    label: str
    kind: str
    c: float = 0.0
    func: Callable[[np.ndarray], np.ndarray] | None = None

    def __call__(self, y: np.ndarray, alpha: float) -> np.ndarray:
        """T(y) at sampling ratio alpha (only mondelli-montanari depends on alpha)."""
        y = np.asarray(y, dtype=float)
        if self.kind == "identity":
            return y
        if self.kind == "truncated":
            return np.where(y <= self.c, y, 0.0)
        if self.kind == "mondelli-montanari" and alpha > 0.5:
            return (y - 1.0) / (y + np.sqrt(2.0 * alpha) - 1.0)
        if self.kind in ("mondelli-montanari", "luo-alghamdi-lu"):  # MM at alpha <= 1/2: its alpha = 1/2 member
            with np.errstate(divide="ignore"):
                return 1.0 - 1.0 / y
        return np.asarray(self.func(y), dtype=float)


def parse_preprocessing(value: Any) -> Preprocessing:
    if isinstance(value, Preprocessing):
        return value
    if callable(value):
        return Preprocessing(getattr(value, "__name__", "callable"), "callable", func=value)
    text = str(value).strip()
    if text in ("identity", "mondelli-montanari", "luo-alghamdi-lu"):
        return Preprocessing(text, text)
    kind, _, arg = text.partition(":")
    if kind == "truncated":
        (c,) = _floats("preprocessing", arg, (1,), PREPROCESSING_FORMS, text)
        if c > 0:
            return Preprocessing(f"truncated:{c:.15g}", "truncated", c)
    raise ParameterError("preprocessing", text, PREPROCESSING_FORMS)


# ------------------------------------------------------------------------------------ ntk activation
NTK_ACTIVATION_FORMS = ("relu, tanh, erf, quadratic (phi = z^2/2), or hermite coefficients c0,c1,... of phi' "
                        "(|c_r| <= 1e100, not all 0)")


@dataclass(frozen=True, eq=False)
class NtkActivation:
    """The activation of ``ntk-init``, through its derivative phi' (the NTK depends on phi' only).

    ``kind``: relu, tanh, erf, quadratic or hermite; ``coefficients`` (hermite only): the normalised Hermite
    coefficients c_r of phi' = sum_r c_r He_r(z)/sqrt(r!) (He_r probabilists' Hermite polynomials).
    """

    label: str
    kind: str
    coefficients: tuple[float, ...] = ()

    def dphi(self, z: np.ndarray) -> np.ndarray:
        """phi'(z), elementwise."""
        z = np.asarray(z, dtype=float)
        if self.kind == "relu":
            return (z > 0).astype(float)
        if self.kind == "tanh":
            return 1.0 / np.cosh(np.clip(z, -350.0, 350.0)) ** 2
        if self.kind == "erf":
            return 2.0 / np.sqrt(np.pi) * np.exp(-z * z)
        if self.kind == "quadratic":
            return z.copy()
        out, prev, cur = np.zeros_like(z), np.zeros_like(z), np.ones_like(z)
        for r, c in enumerate(self.coefficients):  # orthonormal recurrence He_{r+1}/sqrt((r+1)!)
            out += c * cur
            prev, cur = cur, (z * cur - np.sqrt(r) * prev) / np.sqrt(r + 1)
        return out


def parse_ntk_activation(value: Any) -> NtkActivation:
    """``relu`` | ``tanh`` | ``erf`` | ``quadratic`` | ``c0,c1,...`` (Hermite coefficients of phi')."""
    if isinstance(value, NtkActivation):
        return value
    text = str(value).strip()
    if text in ("relu", "tanh", "erf", "quadratic"):
        return NtkActivation(text, text)
    try:
        coefficients = tuple(float(t) for t in text.split(","))
    except ValueError:
        coefficients = ()
    if not coefficients or not all(abs(c) <= 1e100 for c in coefficients):
        raise ParameterError("activation", text, NTK_ACTIVATION_FORMS)
    if not any(coefficients):
        raise ParameterError("activation", text, NTK_ACTIVATION_FORMS, "all coefficients 0: a zero kernel")
    return NtkActivation(text, "hermite", tuple(coefficients))


def split_ntk_activations(text: str) -> list[str]:
    """A comma list of activations where each run of numbers is one coefficient list:
    ``relu,tanh`` -> [relu, tanh]; ``relu,0.2,0.5`` -> [relu, "0.2,0.5"]."""
    return _split_number_runs(text, None)
