r"""BBP family: one finite-size replicate with the exact matrices.

Conventions are those of ``overparam.theory.bbp``: ``top_eigenvalue`` is the eigenvalue whose eigenvector
is the estimator, ``overlap_sq`` the squared cosine of that unit eigenvector with the planted direction.
By orthogonal invariance the planted direction is e1 (spiked models, spectral PR). Threshold-type metrics
(threshold, alpha_bbp, transition) are limits, not finite-size observables, and are not returned.

*   spiked-wigner: Y = W + theta e1 e1^T, W = (A + A^T)/sqrt(2N); top pair by Lanczos (eigsh, start vector
    drawn from ``rng``, so the replicate is reproducible).
*   spiked-covariance: X n x p standard normal with column 0 scaled by sqrt(ell), S = X^T X / n; top pair by
    eigsh.
*   spectral-pr: y = X[:, 0]^2, D = (X^T diag(T(y)) X)/n; top pair by LAPACK (T can be very negative, which
    would slow Lanczos).
*   hessian-init: the Euclidean Hessian of L(W) = (1/2) sum_mu (yhat - y)^2/(a + y) at independent random
    teacher/student rows on the sphere |w|^2 = N, built blockwise:

    .. math::

        H_{(k,l)} = \frac{X^\top \mathrm{diag}(c_{kl})\, X}{N}, \qquad
        c_{kl} = \frac{(4/p^2)\, \lambda_k \lambda_l + \delta_{kl}\, (2/p)(\hat{y} - y)}{a + y}

    (pN x pN, nothing larger is formed); the p p* lowest eigenpairs by LAPACK. min_eigenvalue/overlap_sq
    from the lowest eigenvector (overlap = squared norm of its projection on span{w*_j} (x) R^p);
    cluster_eigenvalue/cluster_overlap_sq = the means over the p p* lowest eigenpairs (the finite-N
    observables of the p p*-fold outlier).
"""
from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.sparse.linalg import eigsh

from overparam.models import HessianInit, SpectralPR, SpikedCovariance, SpikedWigner


def top_pair(matrix: np.ndarray, rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """Largest eigenvalue and unit eigenvector of a symmetric matrix by Lanczos (ARPACK)."""
    vals, vecs = eigsh(matrix, k=1, which="LA", v0=rng.standard_normal(matrix.shape[0]), tol=1e-12)
    return float(vals[0]), vecs[:, 0]


def wigner_matrix(theta: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Y = W + theta e1 e1^T with W = (A + A^T)/sqrt(2N)."""
    a = rng.standard_normal((n, n))
    y = (a + a.T) / np.sqrt(2 * n)
    y[0, 0] += theta
    return y


def spiked_wigner(model: SpikedWigner, sizes: dict, rng: np.random.Generator) -> dict[str, float]:
    y = wigner_matrix(float(model.theta), sizes["N"], rng)
    top, v = top_pair(y, rng)
    return {"top_eigenvalue": top, "overlap_sq": float(v[0] ** 2)}


def spiked_covariance(model: SpikedCovariance, sizes: dict, rng: np.random.Generator) -> dict[str, float]:
    n, p = sizes["n"], sizes["p"]
    x = rng.standard_normal((n, p))
    x[:, 0] *= np.sqrt(float(model.ell))
    top, v = top_pair(x.T @ x / n, rng)
    return {"top_eigenvalue": top, "overlap_sq": float(v[0] ** 2)}


def spectral_matrix(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """D = (1/n) sum_i t_i x_i x_i^T."""
    return (x.T * t) @ x / x.shape[0]


def spectral_pr(model: SpectralPR, sizes: dict, rng: np.random.Generator) -> dict[str, float]:
    n, p = sizes["n"], sizes["p"]
    x = rng.standard_normal((n, p))
    alpha = n / p
    d = spectral_matrix(x, model.preprocessing(x[:, 0] ** 2, alpha))
    vals, vecs = linalg.eigh(d, subset_by_index=[p - 1, p - 1])
    return {"top_eigenvalue": float(vals[0]), "overlap_sq": float(vecs[0, 0] ** 2)}


def sphere_rows(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """k independent rows uniform on the sphere of radius sqrt(n)."""
    w = rng.standard_normal((k, n))
    return w * np.sqrt(n) / np.linalg.norm(w, axis=1, keepdims=True)


def hessian(x: np.ndarray, teacher: np.ndarray, student: np.ndarray, a: float) -> np.ndarray:
    """The Hessian of L(W) = (1/2) sum_mu (yhat_mu - y_mu)^2/(a + y_mu) w.r.t. vec W (index k N + i)."""
    m, n = x.shape
    p, p_star = student.shape[0], teacher.shape[0]
    nu = x @ teacher.T / np.sqrt(n)
    lam = x @ student.T / np.sqrt(n)
    y = np.sum(nu**2, axis=1) / p_star
    yhat = np.sum(lam**2, axis=1) / p
    scale = 1 / (a + y)
    h = np.empty((p * n, p * n))
    for k in range(p):
        for l in range(k, p):
            c = (4 / p**2) * lam[:, k] * lam[:, l] * scale
            if k == l:
                c = c + (2 / p) * (yhat - y) * scale
            block = (x.T * c) @ x / n
            h[k * n:(k + 1) * n, l * n:(l + 1) * n] = block
            h[l * n:(l + 1) * n, k * n:(k + 1) * n] = block.T
    return h


def teacher_overlap(vecs: np.ndarray, teacher: np.ndarray, p: int) -> np.ndarray:
    """||V Q||_F^2 per column of vecs (each reshaped p x N), Q an orthonormal basis of the teacher rows."""
    q, _ = np.linalg.qr(teacher.T)
    n = teacher.shape[1]
    v = vecs.T.reshape(vecs.shape[1], p, n)
    return np.sum((v @ q) ** 2, axis=(1, 2))


def hessian_init(model: HessianInit, sizes: dict, rng: np.random.Generator) -> dict[str, float]:
    n, m = sizes["N"], sizes["M"]
    p, p_star = int(model.p), int(model.p_star)
    x = rng.standard_normal((m, n))
    teacher, student = sphere_rows(p_star, n, rng), sphere_rows(p, n, rng)
    h = hessian(x, teacher, student, float(model.a))
    vals, vecs = linalg.eigh(h, subset_by_index=[0, p * p_star - 1])
    over = teacher_overlap(vecs, teacher, p)
    return {"min_eigenvalue": float(vals[0]), "overlap_sq": float(over[0]),
            "cluster_eigenvalue": float(vals.mean()), "cluster_overlap_sq": float(over.mean())}
