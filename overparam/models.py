"""Model specifications: one frozen, validated dataclass per model of the command line.

A specification holds the parameters of one model. Numeric parameters may be scalars or numpy arrays
(a grid; arrays broadcast together); categorical parameters are single values. Construction validates
every parameter and raises :class:`~overparam.errors.ParameterError` naming the parameter, the value and
the valid range. ``sizes(n)`` turns the command-line size into the integer dimensions of a finite-size
simulation, and ``at_sizes(sizes)`` returns the specification at the realised ratios (p/n etc.), where the
theory should be evaluated when it is compared with that simulation.

Scalings and metric definitions of each family are in its theory module docstring; theory and
simulation share them exactly.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from .choices import (parse_activation, parse_labels, parse_preprocessing, parse_prior, parse_spectrum,
                      split_activations, ACTIVATION_FORMS, LABEL_FORMS, PREPROCESSING_FORMS, SPECTRUM_FORMS)
from .choices import NTK_ACTIVATION_FORMS, parse_ntk_activation, split_ntk_activations
from .choices import Labels
from .errors import ParameterError
from .params import Choice, Number, choice, label, number


@dataclass(frozen=True, eq=False)
class Model:
    """Base class. Subclasses set NAME (CLI name), FAMILY (module name), METRICS and SIZE_DOC."""

    NAME: ClassVar[str]
    FAMILY: ClassVar[str]
    METRICS: ClassVar[tuple[str, ...]]
    #: One-line definition of each metric (``overparam curve MODEL --help``).
    METRIC_DOCS: ClassVar[dict[str, str]] = {}
    SIZE_DOC: ClassVar[str] = "--n: number of samples n"
    #: The simulation size option: ``n`` (``--n``) or ``d`` (``--d``, random-features).
    SIZE_FLAG: ClassVar[str] = "n"

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

    def memory(self, sizes: dict[str, int]) -> float:
        """Rough peak memory (bytes) of one replicate: a few float64 matrices of the two largest sizes
        (data matrix, its Gram matrix or decomposition). Models with larger intermediates override it."""
        dims = sorted(float(v) for v in sizes.values())[-2:]
        big, small = dims[-1], dims[0]
        return 8.0 * 4.0 * (big * small + small * small)


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
    """Linear ridge / ridgeless regression."""

    NAME = "ridge"
    FAMILY = "ridge"
    METRICS = ("excess_risk", "bias", "variance", "train_error", "norm2")
    METRIC_DOCS = {"excess_risk": "E (beta_hat - beta)^T Sigma (beta_hat - beta): test error minus sigma2",
                   "bias": "the noise-free part of excess_risk", "variance": "the noise part of excess_risk",
                   "train_error": "(1/n) ||y - X beta_hat||^2 (noise included)", "norm2": "||beta_hat||^2"}
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
    """Random-features ridge regression of Mei and Montanari."""

    NAME = "random-features"
    FAMILY = "random_features"
    METRICS = ("test_error", "train_error")
    METRIC_DOCS = {"test_error": "E_x (f(x) - f_hat(x))^2 on a fresh noiseless x (add sigma2 for a noisy label)",
                   "train_error": "(1/n) sum_i (y_i - f_hat(x_i))^2 on the noisy labels, penalty excluded"}
    SIZE_DOC = "--d: input dimension d; N = round(psi1 d) features, n = round(psi2 d) samples"
    SIZE_FLAG = "d"

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
    """Hard-margin linear classification and separability."""

    NAME = "max-margin"
    FAMILY = "max_margin"
    METRICS = ("margin", "cos_angle", "test_error", "separability_threshold", "separable")
    METRIC_DOCS = {"margin": "max over |theta| = 1 of min_i y_i <x_i, theta> (NaN if not separable)",
                   "cos_angle": "<theta_hat, beta*> (NaN if not separable)",
                   "test_error": "misclassification probability of the max-margin classifier (NaN if not separable)",
                   "separability_threshold": "psi* above which the data are separable",
                   "separable": "1 above the threshold, else 0 (simulate: fraction of separable replicates)"}
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
    """LASSO and minimum-l1 interpolation, AMP state evolution."""

    NAME = "lasso"
    FAMILY = "lasso"
    METRICS = ("mse", "tau_star", "frac_nonzero", "threshold")
    METRIC_DOCS = {"mse": "||beta_hat - beta||^2/p", "tau_star": "noise level of the equivalent scalar channel",
                   "frac_nonzero": "||beta_hat||_0/p",
                   "threshold": "alpha, the soft threshold in units of tau_star"}
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
    """Donoho-Tanner weak threshold of basis pursuit."""

    NAME = "l1-transition"
    FAMILY = "lasso"
    METRICS = ("rho", "eps_max")
    METRIC_DOCS = {"rho": "Donoho-Tanner weak threshold k/n of basis pursuit (signed signals)",
                   "eps_max": "rho * delta: the largest recoverable fraction k/p of nonzeros"}
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
    """Rank-one spiked GOE matrix Y = theta v v^T + W."""

    NAME = "spiked-wigner"
    FAMILY = "bbp"
    METRICS = ("top_eigenvalue", "overlap_sq")
    METRIC_DOCS = {"top_eigenvalue": "largest eigenvalue of Y", "overlap_sq": "<v_top, v>^2 (0 below theta = 1)"}
    SIZE_DOC = "--n: matrix size N"

    theta: Any = number(2.0, "spike strength", lo=0)

    def sizes(self, n: int) -> dict[str, int]:
        return {"N": _check_size("n", n, 2)}


@dataclass(frozen=True, eq=False)
class SpikedCovariance(Model):
    """Spiked sample covariance, population spike eigenvalue ell."""

    NAME = "spiked-covariance"
    FAMILY = "bbp"
    METRICS = ("top_eigenvalue", "overlap_sq", "threshold")
    METRIC_DOCS = {"top_eigenvalue": "largest eigenvalue of S = X^T X/n", "overlap_sq": "<u_top, u>^2",
                   "threshold": "spike level 1 + sqrt(gamma) above which an outlier separates"}
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
    """Spectral estimator of real Gaussian phase retrieval."""

    NAME = "spectral-pr"
    FAMILY = "bbp"
    METRICS = ("top_eigenvalue", "overlap_sq", "threshold")
    METRIC_DOCS = {"top_eigenvalue": "largest eigenvalue of D = (1/n) sum_i T(y_i) x_i x_i^T",
                   "overlap_sq": "<v_top, beta*>^2/|beta*|^2", "threshold": "weak-recovery alpha_c of T"}
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
    """Hessian at random initialisation of a quadratic teacher-student network."""

    NAME = "hessian-init"
    FAMILY = "bbp"
    METRICS = ("min_eigenvalue", "overlap_sq", "alpha_bbp", "transition")
    METRIC_DOCS = {"min_eigenvalue": "lowest eigenvalue of the Hessian at initialisation",
                   "overlap_sq": "squared overlap of the lowest eigenvectors with the teacher directions",
                   "alpha_bbp": "sample ratio alpha at which the teacher outlier appears",
                   "transition": "continuous or discontinuous transition at alpha_bbp"}
    SIZE_DOC = "--n: input dimension N; M = round(alpha N) samples; the Hessian is pN x pN"

    p_star: Any = number(1, "teacher width p*", lo=1, integer=True)
    p: Any = number(2, "student width p", lo=1, integer=True)
    a: Any = number(0.7, "loss parameter a in (yhat - y)^2/(a + y)", lo=0, lo_open=True)
    alpha: Any = number(2.0, "M/N (samples per input dimension)", lo=0, lo_open=True)

    def sizes(self, n: int) -> dict[str, int]:
        n = _check_size("n", n)
        return {"N": n, "M": _dim("M", _scalar("alpha", self.alpha) * n)}

    def memory(self, sizes: dict[str, int]) -> float:
        """The dense p N x p N Hessian (and its eigendecomposition workspace) plus the M x N data."""
        side = float(self.p if np.ndim(self.p) == 0 else np.max(self.p)) * sizes["N"]
        return 8.0 * (3.0 * side * side + 2.0 * sizes["M"] * sizes["N"])

    def at_sizes(self, sizes: dict[str, int]) -> "HessianInit":
        return self.replace(alpha=sizes["M"] / sizes["N"])


# ------------------------------------------------------------------------------------------- NTK
def _parse_scaling(value: Any) -> str:
    if value in ("linear", "quadratic"):
        return value
    raise ParameterError("scaling", value, "linear (n/d -> gamma) or quadratic (n/(d^2/2) -> gamma)")


def _memory_bytes() -> float:
    """Physical memory (inf where the platform does not say)."""
    import os

    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return float("inf")


@dataclass(frozen=True, eq=False)
class NtkInit(Model):
    """NTK Gram matrix of a two-layer network at random initialisation and lazy GD (theory/ntk.py)."""

    NAME = "ntk-init"
    FAMILY = "ntk"
    METRICS = ("min_eigenvalue", "max_eigenvalue", "gd_rate", "train_loss", "train_loss_signal")
    METRIC_DOCS = {"min_eigenvalue": "lowest eigenvalue of the NTK Gram K = (D D^T/k) o (X X^T) (or Sigma(X))",
                   "max_eigenvalue": "largest eigenvalue of K, an outlier included (inf in quadratic scaling)",
                   "gd_rate": "(1 - lambda_min/lambda_max)^2: per-step loss contraction of GD with step "
                              "1/lambda_max (NaN in quadratic scaling)",
                   "train_loss": "L_t/L_0 after `steps` GD steps, pure-noise labels (NaN in quadratic scaling)",
                   "train_loss_signal": "L_t/L_0 after `steps` GD steps, labels y = sqrt(d) X beta aligned "
                                        "with the data (NaN in quadratic scaling)"}
    SIZE_DOC = ("--n: samples n; d = round(n/gamma) (linear) or round(sqrt(2n/gamma)) (quadratic); "
                "k = round(width n) hidden units (width inf: the infinite-width kernel)")

    gamma: Any = number(0.5, "n/d (linear scaling) or n/(d^2/2) (quadratic scaling)", lo=0, lo_open=True)
    scaling: Any = choice("linear", "linear or quadratic", _parse_scaling)
    activation: Any = choice("relu", NTK_ACTIVATION_FORMS, parse_ntk_activation, split=split_ntk_activations)
    width: Any = number(float("inf"), "k/n hidden units per sample; inf = infinite-width kernel", lo=0,
                        lo_open=True, inf_ok=True)
    steps: Any = number(10, "gradient-descent steps t (step 1/lambda_max)", lo=0, integer=True)

    def sizes(self, n: int) -> dict[str, int]:
        n, gamma = _check_size("n", n, 2), _scalar("gamma", self.gamma)
        d = n / gamma if self.scaling == "linear" else np.sqrt(2 * n / gamma)
        sizes = {"n": n, "d": _check_size("d", int(round(d)), 2)}
        width = _scalar("width", self.width)
        if np.isfinite(width):
            sizes["k"] = _dim("k", width * n)
        need = 8.0 * (4 * n * n + 2 * n * sizes["d"] + 2 * n * sizes.get("k", 0))
        if need > 0.8 * _memory_bytes():
            raise ParameterError("n", n, "small enough for the n x n kernel to fit in memory",
                                 f"needs {need / 2**30:.1f} GiB")
        return sizes

    def at_sizes(self, sizes: dict[str, int]) -> "NtkInit":
        n, d = sizes["n"], sizes["d"]
        width = sizes["k"] / n if "k" in sizes else self.width
        return self.replace(gamma=n / d if self.scaling == "linear" else 2 * n / d**2, width=width)


# ------------------------------------------------------------------------------- gradient flow
@dataclass(frozen=True, eq=False)
class GradientFlow(Model):
    """Gradient flow (eta = 0) or gradient descent with k = t/eta steps on (1/2n)||y - X b||^2 from b = 0,
    in ridge's data model and conventions (theory/gradient_flow.py)."""

    NAME = "gradient-flow"
    FAMILY = "gradient_flow"
    METRICS = ("excess_risk", "bias", "variance", "train_error", "norm2", "optimal_time", "optimal_risk")
    METRIC_DOCS = {**Ridge.METRIC_DOCS,
                   "optimal_time": "t* minimising excess_risk over t >= 0 (GD: over whole k; inf if never stopped)",
                   "optimal_risk": "excess_risk at t* (independent of t)"}
    SIZE_DOC = Ridge.SIZE_DOC

    gamma: Any = number(2.0, "p/n", lo=0, lo_open=True)
    t: Any = number(1.0, "training time on the loss (1/2n)||y - Xb||^2 (GD: t = k eta)", lo=0)
    eta: Any = number(0.0, "step size; 0 = gradient flow, > 0 = GD with t/eta (a whole number) steps", lo=0)
    r2: Any = number(1.0, "signal energy E||beta||^2", lo=0)
    sigma2: Any = number(0.5, "noise variance", lo=0)
    spectrum: Any = choice("isotropic", SPECTRUM_FORMS, parse_spectrum, split=lambda s: [s])

    def __post_init__(self) -> None:
        super().__post_init__()
        t, eta = np.broadcast_arrays(np.asarray(self.t, dtype=float), np.asarray(self.eta, dtype=float))
        k = self.steps()
        bad = (eta > 0) & (np.abs(t - k * eta) > 1e-9 * np.maximum(t, eta))
        if bad.any():
            raise ParameterError("t", f"{t[bad].flat[0]:g} with eta = {eta[bad].flat[0]:g}",
                                 "a whole multiple of eta (t/eta must be an integer number of steps)")

    def steps(self) -> np.ndarray:
        """k = t/eta rounded (the number of GD steps; 0 where eta = 0), broadcast over t and eta."""
        t, eta = np.broadcast_arrays(np.asarray(self.t, dtype=float), np.asarray(self.eta, dtype=float))
        return np.round(np.divide(t, eta, out=np.zeros_like(t), where=eta > 0))

    def filters(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The estimator's spectral filter at eigenvalues x >= 0 of X^T X/n: (phi, f), f = 1 - phi, of shape
        (points, x.size) over the flattened broadcast (t, eta): phi = exp(-t x) (flow) or (1 - eta x)^k (GD,
        k = t/eta), f by expm1/log1p where eta x < 1 (no cancellation at small f). b = Sh^+ f(Sh) X^T y/n."""
        t, eta = (a.reshape(-1, 1) for a in np.broadcast_arrays(np.asarray(self.t, dtype=float),
                                                                 np.asarray(self.eta, dtype=float)))
        x = np.asarray(x, dtype=float)
        gd = eta > 0
        if not gd.any():
            return np.exp(-t * x), -np.expm1(-t * x)
        k = self.steps().reshape(-1, 1)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ex = eta * x
            small = ex < 1.0
            expo = np.where(gd, k * np.log1p(-np.where(small, ex, 0.0)), -t * x)
            direct = (1.0 - ex) ** k  # eta x >= 1: a sign-changing or divergent factor, kept exact
            phi = np.where(gd & ~small, direct, np.exp(expo))
            f = np.where(gd & ~small, 1.0 - direct, -np.expm1(expo))
        return phi, f

    sizes = Ridge.sizes

    def at_sizes(self, sizes: dict[str, int]) -> "GradientFlow":
        return self.replace(gamma=sizes["p"] / sizes["n"])


# ------------------------------------------------------------------------------------ logistic MLE
@dataclass(frozen=True, eq=False)
class LogisticMLE(Model):
    """Unregularised logistic-regression MLE, p/n -> psi (Sur and Candes 2019; theory/logistic.py)."""

    NAME = "logistic-mle"
    FAMILY = "logistic"
    METRICS = ("bias_inflation", "sigma_perp2", "lrt_scale", "test_error", "cos_angle", "mle_exists",
               "separability_threshold")
    METRIC_DOCS = {"bias_inflation": "<b_hat, b0>/|b0|^2 -> alpha* (NaN if no MLE or beta = 0)",
                   "sigma_perp2": "|b_hat - <b_hat, beta*> beta*|^2 -> psi sigma*^2 (NaN if no MLE)",
                   "lrt_scale": "E 2 Lambda_j for a null feature: 2 Lambda_j -> lrt_scale chi^2_1 (NaN if no MLE)",
                   "test_error": "P(y != sign <x, b_hat>), label noise included (NaN if no MLE)",
                   "cos_angle": "<b_hat, beta*>/|b_hat| (NaN if no MLE)",
                   "mle_exists": "1 below the threshold, else 0 (simulate: fraction of replicates with an MLE)",
                   "separability_threshold": "psi*(beta): the MLE exists iff psi < psi*"}
    SIZE_DOC = "--n: samples n; p = round(psi n) >= 2"

    psi: Any = number(0.2, "p/n", lo=0, lo_open=True)
    beta: Any = number(2.0, "signal strength: P(y = 1 | x) = 1/(1 + exp(-beta <x, beta*>)); 0 = global null", lo=0)

    def sizes(self, n: int) -> dict[str, int]:
        n = _check_size("n", n, 2)
        p = _dim("p", _scalar("psi", self.psi) * n)
        if p < 2:
            raise ParameterError("n", n, f">= {int(np.ceil(1.5 / _scalar('psi', self.psi)))} (p = round(psi n) "
                                 "must be >= 2: the likelihood-ratio test drops a null coordinate)")
        return {"n": n, "p": p}

    def at_sizes(self, sizes: dict[str, int]) -> "LogisticMLE":
        return self.replace(psi=sizes["p"] / sizes["n"])

    @staticmethod
    def labels(beta: float) -> Labels:
        """max-margin's label model of signal strength ``beta``: logistic:beta, and purenoise for beta = 0."""
        return Labels("logistic", float(beta)) if beta > 0 else Labels("purenoise", 0.5)


MODELS: dict[str, type[Model]] = {m.NAME: m for m in (Ridge, RandomFeatures, MaxMargin, Lasso, L1Transition,
                                                        SpikedWigner, SpikedCovariance, SpectralPR, HessianInit,
                                                        NtkInit,
                                                        GradientFlow, LogisticMLE)}
