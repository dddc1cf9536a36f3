"""Model specifications: one frozen, validated dataclass per model of INTERFACE.md.

A specification holds the parameters of one model. Numeric parameters may be scalars or numpy arrays
(a grid; arrays broadcast together); categorical parameters are single values. Construction validates
every parameter and raises :class:`~overparam.errors.ParameterError` naming the parameter, the value and
the valid range. ``sizes(n)`` turns the command-line size into the integer dimensions of a finite-size
simulation, and ``at_sizes(sizes)`` returns the specification at the realised ratios (p/n etc.), where the
theory should be evaluated when it is compared with that simulation.

Scalings and metric definitions of each family are in its theory module docstring (and
``formulas/<family>.md``); theory and simulation share them exactly.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from .choices import (parse_activation, parse_labels, parse_preprocessing, parse_prior, parse_spectrum,
                      split_activations, ACTIVATION_FORMS, LABEL_FORMS, PREPROCESSING_FORMS, SPECTRUM_FORMS)
from .errors import ParameterError
from .params import Choice, Number, choice, label, number


@dataclass(frozen=True, eq=False)
class Model:
    """Base class. Subclasses set NAME (CLI name), FAMILY (module name), METRICS and SIZE_DOC."""

    NAME: ClassVar[str]
    FAMILY: ClassVar[str]
    METRICS: ClassVar[tuple[str, ...]]
    SIZE_DOC: ClassVar[str] = "--n: number of samples n"

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, f.metadata["spec"].validate(f.name, getattr(self, f.name)))

    @classmethod
    def params(cls) -> dict[str, Number | Choice]:
        """Parameter name -> declaration (range, default, doc), in declaration order."""
        return {f.name: f.metadata["spec"] for f in fields(cls)}

    def values(self) -> dict[str, Any]:
        """Parameter name -> value (arrays for gridded numbers, objects for categorical values)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def display(self) -> dict[str, Any]:
        """Parameter name -> display value (categorical values by their spelling)."""
        return {k: label(v) for k, v in self.values().items()}

    def replace(self, **changes: Any) -> "Model":
        return dataclasses.replace(self, **changes)

    def shape(self) -> tuple[int, ...]:
        """Broadcast shape of the numeric parameters (``()`` for a single point)."""
        return np.broadcast_shapes(*(np.shape(v) for k, v in self.values().items()
                                     if not self.params()[k].categorical))

    def sizes(self, n: int) -> dict[str, int]:
        """Integer dimensions of a simulation with size ``n`` (the CLI's --n or --d)."""
        raise NotImplementedError

    def at_sizes(self, sizes: dict[str, int]) -> "Model":
        """This specification at the ratios realised by ``sizes``."""
        return self


def _check_size(name: str, n: int, minimum: int = 1) -> int:
    if int(n) != n or n < minimum:
        raise ParameterError(name, n, f"an integer >= {minimum}")
    return int(n)


def _scalar(name: str, value: Any) -> float:
    if np.ndim(value) != 0:
        raise ParameterError(name, "an array", "a single value when sizes are computed")
    return float(value)


def _dim(name: str, x: float) -> int:
    k = int(round(x))
    if k < 1:
        raise ParameterError(name, k, ">= 1 (increase --n)")
    return k


# ------------------------------------------------------------------------------------------ ridge
@dataclass(frozen=True, eq=False)
class Ridge(Model):
    """Linear ridge / ridgeless regression (formulas/ridge.md)."""

    NAME = "ridge"
    FAMILY = "ridge"
    METRICS = ("excess_risk", "bias", "variance", "train_error", "norm2")
    SIZE_DOC = "--n: samples n; p = round(gamma n) (listed spectra: p from the list, n = round(p/gamma))"

    gamma: Any = number(2.0, "p/n", lo=0, lo_open=True)
    lam: Any = number(0.0, "ridge penalty; 0 = minimum-norm interpolation", lo=0)
    r2: Any = number(1.0, "signal energy E||beta||^2", lo=0)
    sigma2: Any = number(0.5, "noise variance", lo=0)
    spectrum: Any = choice("isotropic", SPECTRUM_FORMS, parse_spectrum, split=lambda s: [s])

    def sizes(self, n: int) -> dict[str, int]:
        gamma = _scalar("gamma", self.gamma)
        if self.spectrum.eigenvalues is not None:
            p = len(self.spectrum.eigenvalues)
            return {"n": _dim("n", p / gamma), "p": p}
        n = _check_size("n", n)
        return {"n": n, "p": _dim("p", gamma * n)}

    def at_sizes(self, sizes: dict[str, int]) -> "Ridge":
        return self.replace(gamma=sizes["p"] / sizes["n"])


# ------------------------------------------------------------------------------- random features
@dataclass(frozen=True, eq=False)
class RandomFeatures(Model):
    """Random-features ridge regression of Mei and Montanari (formulas/random_features.md)."""

    NAME = "random-features"
    FAMILY = "random_features"
    METRICS = ("test_error", "train_error")
    SIZE_DOC = "--d: input dimension d; N = round(psi1 d) features, n = round(psi2 d) samples"

    psi1: Any = number(2.0, "N/d (features per dimension)", lo=0, lo_open=True)
    psi2: Any = number(3.0, "n/d (samples per dimension)", lo=0, lo_open=True)
    lam: Any = number(0.01, "ridge penalty (MM normalisation); 0 = minimum-norm", lo=0)
    activation: Any = choice("relu", ACTIVATION_FORMS, parse_activation, split=split_activations)
    r2: Any = number(1.0, "linear signal energy F1^2", lo=0)
    fstar2: Any = number(0.0, "nonlinear signal energy F*^2", lo=0)
    sigma2: Any = number(0.5, "noise variance tau^2", lo=0)

    def sizes(self, d: int) -> dict[str, int]:
        d = _check_size("d", d)
        return {"d": d, "N": _dim("N", _scalar("psi1", self.psi1) * d), "n": _dim("n", _scalar("psi2", self.psi2) * d)}

    def at_sizes(self, sizes: dict[str, int]) -> "RandomFeatures":
        return self.replace(psi1=sizes["N"] / sizes["d"], psi2=sizes["n"] / sizes["d"])


# ---------------------------------------------------------------------------------- max margin
@dataclass(frozen=True, eq=False)
class MaxMargin(Model):
    """Hard-margin linear classification and separability (formulas/max_margin.md)."""

    NAME = "max-margin"
    FAMILY = "max_margin"
    METRICS = ("margin", "cos_angle", "test_error", "separability_threshold", "separable")
    SIZE_DOC = "--n: samples n; p = round(psi n)"

    psi: Any = number(2.0, "p/n", lo=0, lo_open=True)
    labels: Any = choice("noiseless", LABEL_FORMS, parse_labels)

    def sizes(self, n: int) -> dict[str, int]:
        n = _check_size("n", n, 2)
        return {"n": n, "p": _dim("p", _scalar("psi", self.psi) * n)}

    def at_sizes(self, sizes: dict[str, int]) -> "MaxMargin":
        return self.replace(psi=sizes["p"] / sizes["n"])


# --------------------------------------------------------------------------------------- lasso
@dataclass(frozen=True, eq=False)
class Lasso(Model):
    """LASSO and minimum-l1 interpolation, AMP state evolution (formulas/lasso.md)."""

    NAME = "lasso"
    FAMILY = "lasso"
    METRICS = ("mse", "tau_star", "frac_nonzero", "threshold")
    SIZE_DOC = "--n: samples n; p = round(n/delta)"

    delta: Any = number(0.5, "n/p", lo=0, lo_open=True)
    eps: Any = number(0.1, "fraction of nonzero coefficients", lo=0, hi=1, lo_open=True)
    prior: Any = choice("gauss", "gauss or rademacher", parse_prior)
    sigma2: Any = number(0.01, "noise variance", lo=0)
    lam: Any = number(0.1, "l1 penalty of (1/2)||y - Xb||^2 + lam ||b||_1; 0 = minimum-l1", lo=0)

    def __post_init__(self) -> None:
        """A single point with lam = 0 and delta >= 1 is refused. Inside a grid (a delta sweep across 1)
        such points take the lam -> 0+ limit, least squares (documented in theory/lasso.py)."""
        super().__post_init__()
        if np.ndim(self.lam) == 0 and np.ndim(self.delta) == 0 and self.lam == 0 and self.delta >= 1:
            raise ParameterError("lam", 0, "> 0 when delta >= 1",
                                 "minimum-l1 interpolation needs delta < 1; for delta >= 1 lam = 0 is least "
                                 "squares, use a small lam > 0")

    def sizes(self, n: int) -> dict[str, int]:
        n = _check_size("n", n)
        return {"n": n, "p": _dim("p", n / _scalar("delta", self.delta))}

    def at_sizes(self, sizes: dict[str, int]) -> "Lasso":
        return self.replace(delta=sizes["n"] / sizes["p"])


@dataclass(frozen=True, eq=False)
class L1Transition(Model):
    """Donoho-Tanner weak threshold of basis pursuit (formulas/lasso.md)."""

    NAME = "l1-transition"
    FAMILY = "lasso"
    METRICS = ("rho", "eps_max")
    SIZE_DOC = "--n: samples n; p = round(n/delta)"

    delta: Any = number(0.5, "n/p", lo=0, hi=1, lo_open=True, hi_open=True)

    def sizes(self, n: int) -> dict[str, int]:
        n = _check_size("n", n)
        return {"n": n, "p": _dim("p", n / _scalar("delta", self.delta))}

    def at_sizes(self, sizes: dict[str, int]) -> "L1Transition":
        return self.replace(delta=sizes["n"] / sizes["p"])


# ----------------------------------------------------------------------------------------- BBP
@dataclass(frozen=True, eq=False)
class SpikedWigner(Model):
    """Rank-one spiked GOE matrix Y = theta v v^T + W (formulas/bbp.md A)."""

    NAME = "spiked-wigner"
    FAMILY = "bbp"
    METRICS = ("top_eigenvalue", "overlap_sq")
    SIZE_DOC = "--n: matrix size N"

    theta: Any = number(2.0, "spike strength", lo=0)

    def sizes(self, n: int) -> dict[str, int]:
        return {"N": _check_size("n", n, 2)}


@dataclass(frozen=True, eq=False)
class SpikedCovariance(Model):
    """Spiked sample covariance, population spike eigenvalue ell (formulas/bbp.md B)."""

    NAME = "spiked-covariance"
    FAMILY = "bbp"
    METRICS = ("top_eigenvalue", "overlap_sq", "threshold")
    SIZE_DOC = "--n: samples n; p = round(gamma n)"

    ell: Any = number(2.5, "population eigenvalue of the spike", lo=1)
    gamma: Any = number(0.25, "p/n", lo=0, lo_open=True)

    def sizes(self, n: int) -> dict[str, int]:
        n = _check_size("n", n)
        return {"n": n, "p": _dim("p", _scalar("gamma", self.gamma) * n)}

    def at_sizes(self, sizes: dict[str, int]) -> "SpikedCovariance":
        return self.replace(gamma=sizes["p"] / sizes["n"])


@dataclass(frozen=True, eq=False)
class SpectralPR(Model):
    """Spectral estimator of real Gaussian phase retrieval (formulas/bbp.md C)."""

    NAME = "spectral-pr"
    FAMILY = "bbp"
    METRICS = ("top_eigenvalue", "overlap_sq", "threshold")
    SIZE_DOC = "--n: samples n; p = round(n/alpha)"

    alpha: Any = number(2.0, "n/p", lo=0, lo_open=True)
    preprocessing: Any = choice("luo-alghamdi-lu", PREPROCESSING_FORMS, parse_preprocessing)

    def sizes(self, n: int) -> dict[str, int]:
        n = _check_size("n", n)
        return {"n": n, "p": _dim("p", n / _scalar("alpha", self.alpha))}

    def at_sizes(self, sizes: dict[str, int]) -> "SpectralPR":
        return self.replace(alpha=sizes["n"] / sizes["p"])


@dataclass(frozen=True, eq=False)
class HessianInit(Model):
    """Hessian at random initialisation of a quadratic teacher-student network (formulas/bbp.md D)."""

    NAME = "hessian-init"
    FAMILY = "bbp"
    METRICS = ("min_eigenvalue", "overlap_sq", "alpha_bbp", "transition")
    SIZE_DOC = "--n: input dimension N; M = round(alpha N) samples; the Hessian is pN x pN"

    p_star: Any = number(1, "teacher width p*", lo=1, integer=True)
    p: Any = number(2, "student width p", lo=1, integer=True)
    a: Any = number(0.7, "loss parameter a in (yhat - y)^2/(a + y)", lo=0, lo_open=True)
    alpha: Any = number(2.0, "M/N (samples per input dimension)", lo=0, lo_open=True)

    def sizes(self, n: int) -> dict[str, int]:
        n = _check_size("n", n)
        return {"N": n, "M": _dim("M", _scalar("alpha", self.alpha) * n)}

    def at_sizes(self, sizes: dict[str, int]) -> "HessianInit":
        return self.replace(alpha=sizes["M"] / sizes["N"])


MODELS: dict[str, type[Model]] = {m.NAME: m for m in (Ridge, RandomFeatures, MaxMargin, Lasso, L1Transition,
                                                        SpikedWigner, SpikedCovariance, SpectralPR, HessianInit)}
