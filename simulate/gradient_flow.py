r"""Gradient flow / gradient descent on least squares at finite (n, p): one replicate, exact iterates.

Data model and design exactly as ``simulate.ridge`` (X = Z diag(sqrt(s)), s = ``model.spectrum.for_dimension(p)``,
E beta beta^T = (r2/p) I, eps ~ N(0, sigma2)). The iterate from b_0 = 0 on (1/2n) ||y - X b||^2 is the
spectral filter b = Sh^+ f(Sh) X^T y/n of Sh = X^T X/n, with f = 1 - exp(-t e) (flow, eta = 0) or
f = 1 - (1 - eta e)^k, k = t/eta (gradient descent): ``GradientFlow.filters``, the closed form of the
recursions (no ODE solver, no step loop; exact for every t and k).

Rao-Blackwellised over beta and eps as in ridge: from ONE eigendecomposition of the smaller Gram matrix
(nonzero eigenvalues e_j, w_j = v_j^T Sigma v_j), with phi = 1 - f (:math:`r_2` = ``r2``,
:math:`\sigma^2` = ``sigma2``),

.. math::

    \mathrm{bias} = \frac{r_2}{p} \left[ \mathrm{tr}\,\Sigma - \sum_j w_j + \sum_j \phi_j^2 w_j \right], \qquad
    \mathrm{variance} = \frac{\sigma^2}{n} \sum_j \frac{w_j f_j^2}{e_j}

    \mathrm{norm2} = \frac{r_2}{p} \sum_j f_j^2 + \frac{\sigma^2}{n} \sum_j \frac{f_j^2}{e_j}

    \mathrm{train\_error} = \frac{r_2}{p} \sum_j \phi_j^2 e_j
    + \frac{\sigma^2}{n} \left[ n - r + \sum_j \phi_j^2 \right]

for every (t, eta) of the grid at once (``simulate.ridge.filter_metrics``). These are the exact expectations
over beta and eps given X of the realised metrics. ``optimal_time``/``optimal_risk`` are theory-only.
"""
from __future__ import annotations

import numpy as np

from overparam.models import GradientFlow

from .ridge import design, filter_metrics, gram_spectrum

METRICS = ("excess_risk", "bias", "variance", "train_error", "norm2")


def replicate(model: GradientFlow, sizes: dict[str, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One replicate at sizes {n, p}: the metrics for every (t, eta) of ``model`` (the shared parameters,
    scalars or equal-length 1-D arrays) from one draw of X."""
    X, s = design(model, sizes, rng)
    e, w = gram_spectrum(X, s)
    phi, f = model.filters(e)
    return filter_metrics(e, w, s, X.shape[0], f, phi, float(model.r2), float(model.sigma2))


__all__ = ["replicate", "METRICS"]
