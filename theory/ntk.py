r"""NTK Gram spectrum of a two-layer network at random initialisation, and lazy gradient descent (``ntk-init``).

Model. Data x_1..x_n iid uniform on the unit sphere S^{d-1} (X is n x d). Network
f(x) = sum_{l<=k} v_l phi(<w_l, x>) with w_l ~ N(0, I_d), fixed v_l = +-1/sqrt(k); only W is trained on the
loss (1/2) sum_i (f(x_i) - y_i)^2. The Jacobian Gram (NTK) is

.. math::

    K = J J^\top = \frac{D D^\top}{k} \circ (X X^\top), \qquad D = \phi'(X W^\top)

(o, the circle, is the Hadamard product), and its infinite-width limit (``width = inf``) is
Sigma(X)_ij = g(<x_i, x_j>), g(t) = t h(t), h(t) = E phi'(u) phi'(v) for standard Gaussians with correlation t.
With the normalised Hermite coefficients mu_r = E[phi'(G) He_r(G)]/sqrt(r!) of phi' (Mehler)
h(t) = sum_r mu_r^2 t^r, so Sigma = sum_r mu_r^2 (XX^T)^{o(r+1)} and Sigma_ii = E phi'(G)^2 (Oymak &
Soltanolkotabi 2019, arXiv 1902.04674, the Hermite lemma; their index is shifted by one: their mu_2(phi')^2 is
our mu_1^2 = (E phi''(G))^2).

Metrics (eigenvalues of K, or of Sigma(X) at infinite width):

* min_eigenvalue, max_eigenvalue (the largest one includes an outlier where there is one);
* gd_rate, the worst per-step contraction of the training loss of GD on the linearised model with step
  1/lambda_max (L_t <= gd_rate^t L_0):

  .. math::

      \mathrm{gd\_rate} = \left(1 - \frac{\lambda_{\min}}{\lambda_{\max}}\right)^2

* train_loss, L_t/L_0 after t = ``steps`` steps for isotropic labels independent of X (pure noise; the
  linearised model starts at f_lin = 0, r_0 = -y):

  .. math::

      \mathrm{train\_loss} = \frac{1}{n} \operatorname{tr} \left(I - \frac{K}{\lambda_{\max}}\right)^{2t}

* train_loss_signal, the same for a linear target y = sqrt(d) X beta, beta uniform on the unit sphere
  (E y y^T = X X^T):

  .. math::

      \mathrm{train\_loss\_signal} = \frac{1}{n} \operatorname{tr}
      \left[\left(I - \frac{K}{\lambda_{\max}}\right)^{2t} X X^\top\right]

  Signal plus noise y = sqrt(d) X beta + sigma z gives
  L_t/L_0 = (train_loss_signal + sigma^2 train_loss)/(1 + sigma^2).

Limits (``curve``). Write a = mu_0^2, m1 = mu_1^2, V = E phi'^2 - mu_0^2 = Var phi'(G).
* Linear scaling n/d -> gamma (El Karoui 2010, Ann. Statist. 38:1-50, kernel random matrices): in operator norm
  Sigma(X) = a X X^T + V I + gamma m1 (1 1^T/n) + o(1); X X^T has the Marchenko-Pastur law MP(gamma) (support
  [(1 - sqrt gamma)^2, (1 + sqrt gamma)^2], atom 1 - 1/gamma at 0 for gamma > 1). Hence, with E+ the bulk edge,

  .. math::

      \mathrm{min\_eigenvalue} = a (1 - \sqrt{\gamma})_+^2 + V, \qquad E_+ = a (1 + \sqrt{\gamma})^2 + V

  and the rank one theta = gamma m1 separates (Benaych-Georges & Nadakuditi 2011, arXiv 0910.2120, with the
  inverse Stieltjes transform z(G) = V + a/(1 - a gamma G) + 1/G of the bulk) iff theta > a sqrt(gamma)(1 + sqrt gamma),
  at V + a m1/(m1 - a) + gamma m1 = max_eigenvalue (else max_eigenvalue = E+). relu, tanh, erf have no outlier.

  .. math::

      \mathrm{train\_loss} = \int \left(1 - \frac{V + a s}{\lambda_{\max}}\right)^{2t} \mathrm{d}\mathrm{MP}_\gamma(s)

      \mathrm{train\_loss\_signal} = \int s \left(1 - \frac{V + a s}{\lambda_{\max}}\right)^{2t}
      \mathrm{d}\mathrm{MP}_\gamma(s)

  (the signal is size-biased by s). Every finite width k/n gives the same limits (Fan & Wang 2020,
  arXiv 2005.11879: (D D^T/k - E) o XX^T -> 0 in operator norm), though the finite-k corrections O(1/k) are
  not small at simulable sizes.
* Quadratic scaling n/(d^2/2) -> gamma (Misiakiewicz 2022, arXiv 2204.10425; Lu & Yau 2022, arXiv 2205.06308):
  the degree-2 block is Wishart with ratio gamma, higher degrees act as the identity, degrees 0 and 1 are of
  rank O(d) = o(n) with eigenvalues of order n/d:

  .. math::

      \mathrm{min\_eigenvalue} = m_1 (1 - \sqrt{\gamma})_+^2 + \mathbb{E}\,\phi'^2 - a - m_1, \qquad
      \mathrm{max\_eigenvalue} = +\infty \quad (\mathrm{if}\ a + m_1 > 0)

  Not covered, NaN: gd_rate and the train losses (their time scale is n/d steps; the fixed-step limit is the
  trivial 1), max_eigenvalue when a = m1 = 0, and every metric at finite width.
* Special cases: relu linear: min = (1 - sqrt gamma)_+^2/4 + 1/4, max = (1 + sqrt gamma)^2/4 + 1/4;
  phi = z^2/2 linear: min = 1, max = 1 + gamma, train_loss = train_loss_signal = (gamma/(1 + gamma))^{2t};
  gamma -> 0: min = max = E phi'^2; steps = 0: train losses 1.

Finite-size deterministic equivalent (:func:`deterministic_equivalent`, width inf, any scaling), used by
``check`` at simulable sizes where the limit is off by O(sqrt(n)/d) (linear) or O(1/d) (quadratic). The
Gegenbauer expansion g(t) = sum_l b_l Q_l(t) on S^{d-1} (Q_l(1) = 1, b_l = N_l E g(T) Q_l(T), N_l the dimension
of degree-l harmonics; Schoenberg: b_l >= 0) writes Sigma(X) = sum_l b_l Y_l Y_l^T/N_l exactly (addition
theorem). Treating the blocks l = 1..6 as free Wishart matrices of ratios y_l = n/N_l (the equivalence
principle of Lu & Yau for one degree; freeness is an approximation), the rest as c I with
c = E phi'^2 - sum_{l<=6} b_l and degree 0 as the rank one n b_0 along 1/sqrt(n):

.. math::

    R(G) = c + \sum_l \frac{b_l}{1 - b_l y_l G}, \qquad z(G) = R(G) + \frac{1}{G}

lambda_min = z at the stationary point of z on G < 0 (c when the blocks have total rank < n), the bulk edge
= z at the stationary point on (0, 1/max b_l y_l), the outlier z(1/(n b_0)) when 1/(n b_0) is below it;
train losses from the free cumulants of B = I - K/lambda_max (moments m_j from M(z) = C(z M(z)) in high
precision), and tau(X X^T (x - B)^{-1}) = G_B/(1 + b_1 y_1 G_B/lambda_max) for the signal (subordination;
X X^T is exactly the degree-1 block), times 1 - 1/n when lambda_max is the outlier (its eigenvector, of
weight 1/n in both traces, has f = 0 at step 1/lambda_max). It omits the Tracy-Widom shifts O(n^{-2/3}) of
soft edges (the mean smallest eigenvalue sits above the left edge, the mean largest below the right edge);
at hard edges (gamma > 1) and outliers it is accurate to about 1e-3 relative at n = 400.
"""
from __future__ import annotations

import math
from decimal import Decimal, localcontext
from functools import lru_cache

import numpy as np

from overparam.choices import NtkActivation
from overparam.models import NtkInit

L_BLOCKS = 6  # Gegenbauer degrees 1..6 kept as Wishart blocks in the deterministic equivalent
_GH_NODES = 200


# ---------------------------------------------------------------------------------- activation data
@lru_cache(maxsize=None)
def _hermite_nodes(m: int = _GH_NODES) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.hermite_e.hermegauss(m)
    return x, w / w.sum()


def gaussian_moments(act: NtkActivation) -> tuple[float, float, float]:
    """(mu_0, mu_1, E phi'(G)^2): closed forms, Gauss-Hermite for tanh (sech^2 is analytic in a strip:
    200 nodes give 1e-15), exact sums for Hermite coefficients."""
    if act.kind == "relu":
        return 0.5, 1 / math.sqrt(2 * math.pi), 0.5
    if act.kind == "erf":
        return 2 / math.sqrt(3 * math.pi), 0.0, 4 / (math.pi * math.sqrt(5))
    if act.kind == "quadratic":
        return 0.0, 1.0, 1.0
    if act.kind == "tanh":
        x, w = _hermite_nodes()
        f = act.dphi(x)
        return float(w @ f), 0.0, float(w @ f**2)
    c = np.asarray(act.coefficients)
    return float(c[0]), float(c[1]) if len(c) > 1 else 0.0, float(c @ c)


def kernel(act: NtkActivation, t: np.ndarray) -> np.ndarray:
    """g(t) = t E[phi'(u) phi'(v)], corr(u, v) = t in [-1, 1] (tanh: Mehler's integral by 2-D Gauss-Hermite,
    h(t) = E phi'(u) phi'(t u + sqrt(1 - t^2) w))."""
    t = np.asarray(t, dtype=float)
    if act.kind == "relu":
        return t * (np.pi - np.arccos(np.clip(t, -1, 1))) / (2 * np.pi)
    if act.kind == "erf":
        return t * (4 / np.pi) / np.sqrt(9 - 4 * t * t)
    if act.kind == "quadratic":
        return t * t
    if act.kind == "hermite":
        c2 = np.asarray(act.coefficients) ** 2
        return t * np.polynomial.polynomial.polyval(t, c2)
    x, w = _hermite_nodes(120)
    fu = act.dphi(x)
    s = np.sqrt(np.clip(1 - t * t, 0, None))
    v = t[..., None, None] * x[:, None] + s[..., None, None] * x[None, :]
    return t * np.einsum("i,j,...ij->...", w * fu, w, act.dphi(v))


# -------------------------------------------------------------------------------------------- limits
def _midpoint(q: int) -> np.ndarray:
    return (np.arange(q) + 0.5) * np.pi / q


def _mp_losses(gamma: np.ndarray, steps: np.ndarray, a: float, v: float, lam_max: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """int f dMP and int s f dMP for f(s) = (1 - (V + a s)/lambda_max)^{2t}. With s = m + h cos(theta) the MP
    density is h^2 sin^2(theta)/(2 pi gamma s) dtheta. int s f dMP is a trigonometric polynomial of degree
    <= 2t + 2, integrated exactly by the Q-node midpoint rule (Q > t + 2). For int f dMP the factor 1/s has
    its complex singularity at distance log(rho), rho = max(gamma, 1/gamma)^{1/2}, so the midpoint rule errs by
    ~rho^{-2Q}: where that is below 1e-17 the positive integrand is summed as is (full relative accuracy);
    near gamma = 1 f = f(0) + s (f(s) - f(0))/s is used instead (the atom and the continuous part have mass 1),
    exact again, and accurate there because the mass near s = 0 keeps the result of order f(0)."""
    q = 2 * int(steps.max(initial=0)) + 64
    theta = _midpoint(q)
    g, t, lm = gamma[:, None], 2 * steps[:, None], lam_max[:, None]
    m, h = 1 + g, 2 * np.sqrt(g)
    s = m + h * np.cos(theta)
    weight = (h * np.sin(theta)) ** 2 / (2 * np.pi * g) * (np.pi / q)  # density * s * dtheta
    f0 = (1 - v / lm) ** t
    fs = (1 - (v + a * s) / lm) ** t
    direct = np.abs(np.log(gamma)) * q > 17 * np.log(10)
    atom = np.clip(1 - 1 / gamma, 0, None) * f0[:, 0]
    loss = np.where(direct, atom + np.sum(weight * fs / s, axis=1), f0[:, 0] + np.sum(weight * (fs - f0) / s, axis=1))
    return loss, np.sum(weight * fs, axis=1)


def _linear(gamma: np.ndarray, steps: np.ndarray, act: NtkActivation) -> dict[str, np.ndarray]:
    mu0, mu1, second = gaussian_moments(act)
    a, m1, v = mu0**2, mu1**2, second - mu0**2
    sg = np.sqrt(gamma)
    lam_min = a * np.clip(1 - sg, 0, None) ** 2 + v
    edge = a * (1 + sg) ** 2 + v
    theta = gamma * m1
    with np.errstate(divide="ignore", invalid="ignore"):
        outlier = v + np.where(m1 > a, a * m1 / (m1 - a), 0.0) + theta
    lam_max = np.where((theta > a * sg * (1 + sg)) & (m1 > 0), outlier, edge)
    loss, signal = np.empty_like(gamma), np.empty_like(gamma)
    chunk = max(1, 4_000_000 // (2 * int(steps.max(initial=0)) + 64))
    for i in range(0, gamma.size, chunk):
        sl = slice(i, i + chunk)
        loss[sl], signal[sl] = _mp_losses(gamma[sl], steps[sl], a, v, lam_max[sl])
    return {"min_eigenvalue": lam_min, "max_eigenvalue": lam_max, "gd_rate": (1 - lam_min / lam_max) ** 2,
            "train_loss": loss, "train_loss_signal": signal}


def _quadratic(gamma: np.ndarray, act: NtkActivation) -> dict[str, np.ndarray]:
    mu0, mu1, second = gaussian_moments(act)
    a, m1 = mu0**2, mu1**2
    nan = np.full_like(gamma, np.nan)
    return {"min_eigenvalue": m1 * np.clip(1 - np.sqrt(gamma), 0, None) ** 2 + second - a - m1,
            "max_eigenvalue": np.full_like(gamma, np.inf if a + m1 > 0 else np.nan),
            "gd_rate": nan, "train_loss": nan, "train_loss_signal": nan.copy()}


def theory(model: NtkInit) -> dict[str, np.ndarray]:
    """The n, d (and k) -> infinity limits of every metric, vectorised over gamma, width and steps."""
    gamma, width, steps = np.broadcast_arrays(*(np.asarray(x, dtype=float)
                                                for x in (model.gamma, model.width, model.steps)))
    shape = gamma.shape
    gamma, width, steps = gamma.ravel(), width.ravel(), steps.ravel().astype(np.int64)
    if model.scaling == "linear":
        out = _linear(gamma, steps, model.activation)
    else:
        out = _quadratic(gamma, model.activation)
        out = {m: np.where(np.isinf(width), v, np.nan) for m, v in out.items()}
    return {m: v.reshape(shape) for m, v in out.items()}


# ------------------------------------------------------------------------ deterministic equivalent
def harmonic_dimension(d: int, l: int) -> int:
    """N_l = C(d + l - 1, l) - C(d + l - 3, l - 2): dimension of degree-l spherical harmonics on S^{d-1}."""
    return math.comb(d + l - 1, l) - (math.comb(d + l - 3, l - 2) if l >= 2 else 0)


def gegenbauer(d: int, l_max: int, t: np.ndarray) -> np.ndarray:
    """Q_0..Q_{l_max}(t) on S^{d-1} (Q_l(1) = 1): Q_{l+1} = ((2l + d - 2) t Q_l - l Q_{l-1})/(l + d - 2)."""
    q = [np.ones_like(t), t]
    for l in range(1, l_max):
        q.append(((2 * l + d - 2) * t * q[l] - l * q[l - 1]) / (l + d - 2))
    return np.array(q[: l_max + 1])


def _sphere_nodes(d: int, m: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for T = <x, x'>, density prop. to (1 - t^2)^{(d-3)/2}: t = sin(theta), weight
    cos(theta)^{d-2} dtheta (smooth in theta), on |theta| <= min(pi/2, 12/sqrt(d)) (outside: mass < e^-70)."""
    x, w = np.polynomial.legendre.leggauss(m)
    theta = min(np.pi / 2, 12 / np.sqrt(d)) * x
    w = w * np.exp((d - 2) * np.log(np.cos(theta)))
    return np.sin(theta), w / w.sum()


def gegenbauer_coefficients(act: NtkActivation, d: int, l_max: int = L_BLOCKS) -> np.ndarray:
    """b_l = N_l E[g(T) Q_l(T)], l = 0..l_max, for the kernel g of ``act`` on S^{d-1}."""
    return _gegenbauer_coefficients(act.kind, act.coefficients, d, l_max).copy()


@lru_cache(maxsize=256)
def _gegenbauer_coefficients(kind: str, coefficients: tuple, d: int, l_max: int) -> np.ndarray:
    t, w = _sphere_nodes(d)
    q = gegenbauer(d, l_max, t)
    dims = np.array([harmonic_dimension(d, l) for l in range(l_max + 1)], dtype=float)
    return dims * (q @ (w * kernel(NtkActivation(kind, kind, coefficients), t)))


def _bisect(fun, lo: float, hi: float, iters: int = 200) -> float:
    """Root of an increasing function on (lo, hi), bisection in log scale."""
    lo, hi = math.log(lo), math.log(hi)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if fun(math.exp(mid)) < 1 else (lo, mid)
    return math.exp(0.5 * (lo + hi))


def _edges(c: float, b: np.ndarray, y: np.ndarray, spike: float) -> tuple[float, float, bool]:
    """(lambda_min, lambda_max, whether lambda_max is the outlier) of c I + sum_l b_l W_l (free Wisharts,
    ratios y_l) + spike along 1/sqrt(n)."""
    z = lambda g: c + float(np.sum(b / (1 - b * y * g))) + 1 / g  # noqa: E731
    if b.size and np.sum(1 / y) > 1:
        u = _bisect(lambda u: float(np.sum((b * y * u) ** 2 / (y * (1 + b * y * u) ** 2))), 1e-12, 1e12)
        lam_min = z(-u)
    else:
        lam_min = c
    if b.size:
        pole = 1 / float(np.max(b * y))
        g_edge = pole * _bisect(lambda r: float(np.sum((b * y * r * pole) ** 2 / (y * (1 - b * y * r * pole) ** 2))),
                                1e-16, 1.0)
        edge = z(g_edge)
    else:
        g_edge, edge = math.inf, c
    outlier = spike > 0 and 1 / spike < g_edge
    return lam_min, (z(1 / spike) if outlier else edge), outlier


def _free_losses(kappa: list[Decimal], beta: Decimal, order: int) -> tuple[list[Decimal], list[Decimal]]:
    """Moments m_j = tau(B^j) and s_j = tau(W_1 B^j), j <= order, from the free cumulants kappa[1..] of B:
    m_n = sum_s kappa_s P_s(n - s), P_s = [coefficients of M^s]; s_j = sum_k (-beta)^k P_{k+1}(j - k)."""
    one, zero = Decimal(1), Decimal(0)
    m = [one]
    p: dict[tuple[int, int], Decimal] = {(0, 0): one}
    for n in range(1, order + 2):
        for s in range(1, n + 1):
            k = n - s
            p[s, k] = sum((p.get((s - 1, k - j), zero) * m[j] for j in range(k + 1)), zero)
        if n <= order:
            m.append(sum((kappa[s] * p[s, n - s] for s in range(1, n + 1)), zero))
    sig = [sum(((-beta) ** k * p[k + 1, j - k] for k in range(j + 1)), zero) for j in range(order + 1)]
    return m, sig


def deterministic_equivalent(model: NtkInit, sizes: dict) -> dict[str, np.ndarray]:
    """Finite-(n, d) deterministic equivalent of every metric for ``width = inf`` (module docstring), at a
    single (gamma, activation) point; ``steps`` may be an array. Finite width: NaN (not modelled)."""
    steps = np.asarray(model.steps, dtype=np.int64)
    if np.isfinite(float(np.max(model.width))):
        return {m: np.full(steps.shape, np.nan) for m in NtkInit.METRICS}
    n, d = int(sizes["n"]), int(sizes["d"])
    _, _, second = gaussian_moments(model.activation)
    b_all = gegenbauer_coefficients(model.activation, d)
    y_all = n / np.array([harmonic_dimension(d, l) for l in range(1, L_BLOCKS + 1)], dtype=float)
    c = second - float(b_all.sum())
    keep = b_all[1:] > 1e-15 * second
    b, y = b_all[1:][keep], y_all[keep]
    lam_min, lam_max, outlier = _edges(c, b, y, n * b_all[0])
    bulk = 1 - 1 / n if outlier else 1.0  # the outlier (weight 1/n in both traces) has f = 0
    order = 2 * int(steps.max(initial=0))
    with localcontext() as ctx:
        ctx.prec = 40 + order
        lam = Decimal(lam_max)
        bd, yd = [Decimal(x) for x in b], [Decimal(x) for x in y]
        kappa = [Decimal(0), 1 - (Decimal(c) + sum(bd, Decimal(0))) / lam]
        kappa += [sum(((-bl / lam) ** j * yl ** (j - 1) for bl, yl in zip(bd, yd)), Decimal(0))
                  for j in range(2, order + 1)]
        beta = Decimal(b_all[1]) * Decimal(y_all[0]) / lam
        m, sig = _free_losses(kappa, beta, order)
        loss = bulk * np.array([float(m[2 * t]) for t in steps.ravel()]).reshape(steps.shape)
        signal = bulk * np.array([float(sig[2 * t]) for t in steps.ravel()]).reshape(steps.shape)
    full = lambda x: np.full(steps.shape, x)  # noqa: E731
    return {"min_eigenvalue": full(lam_min), "max_eigenvalue": full(lam_max),
            "gd_rate": full((1 - lam_min / lam_max) ** 2), "train_loss": loss, "train_loss_signal": signal}
