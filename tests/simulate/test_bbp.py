"""Simulators of the BBP family against brute-force numpy at small sizes (and the Hessian against finite
differences of the actual loss)."""
import numpy as np
import pytest

from overparam.models import HessianInit, SpectralPR, SpikedCovariance, SpikedWigner
from overparam.simulate import bbp


def test_top_pair_matches_dense_eigh():
    rng = np.random.default_rng(1)
    y = bbp.wigner_matrix(2.0, 60, rng)
    np.testing.assert_array_equal(y, y.T)
    val, vec = bbp.top_pair(y, rng)
    w, v = np.linalg.eigh(y)
    assert val == pytest.approx(w[-1], rel=1e-10)
    assert abs(vec @ v[:, -1]) == pytest.approx(1.0, abs=1e-8)


def test_wigner_normalisation():
    """Off-diagonal variance 1/N, diagonal 2/N (semicircle on [-2, 2])."""
    n = 400
    y = bbp.wigner_matrix(0.0, n, np.random.default_rng(2))
    off = y[np.triu_indices(n, 1)]
    assert np.var(off) * n == pytest.approx(1.0, abs=0.02)
    assert np.var(np.diag(y)) * n == pytest.approx(2.0, abs=0.3)


@pytest.mark.parametrize("make,sizes", [
    (lambda: SpikedWigner(theta=1.7), {"N": 50}),
    (lambda: SpikedCovariance(ell=3.0, gamma=0.5), {"n": 80, "p": 40}),
    (lambda: SpectralPR(alpha=2.0, preprocessing="mondelli-montanari"), {"n": 80, "p": 40}),
])
def test_replicates_equal_brute_force(make, sizes):
    """Rebuild the same matrix from the same seed by plain numpy and compare the top pair."""
    model = make()
    out = getattr(bbp, model.NAME.replace("-", "_"))(model, sizes, np.random.default_rng(7))
    rng = np.random.default_rng(7)
    if model.NAME == "spiked-wigner":
        n = sizes["N"]
        a = rng.standard_normal((n, n))
        m = (a + a.T) / np.sqrt(2 * n) + model.theta * np.outer(np.eye(n)[0], np.eye(n)[0])
    else:
        x = rng.standard_normal((sizes["n"], sizes["p"]))
        if model.NAME == "spiked-covariance":
            x[:, 0] *= np.sqrt(model.ell)
            m = sum(np.outer(r, r) for r in x) / sizes["n"]
        else:
            y = x[:, 0] ** 2
            s = np.sqrt(2 * model.alpha)
            m = sum((yi - 1) / (yi + s - 1) * np.outer(r, r) for yi, r in zip(y, x)) / sizes["n"]
    w, v = np.linalg.eigh(m)
    assert out["top_eigenvalue"] == pytest.approx(w[-1], rel=1e-9)
    assert out["overlap_sq"] == pytest.approx(v[0, -1] ** 2, rel=1e-6, abs=1e-12)


def _loss(wflat, x, teacher, a, p):
    n = x.shape[1]
    w = wflat.reshape(p, n)
    y = np.sum((x @ teacher.T / np.sqrt(n)) ** 2, axis=1) / teacher.shape[0]
    yhat = np.sum((x @ w.T / np.sqrt(n)) ** 2, axis=1) / p
    return 0.5 * np.sum((yhat - y) ** 2 / (a + y))


@pytest.mark.parametrize("p_star,p", [(1, 1), (2, 3)])
def test_hessian_equals_finite_differences_of_the_loss(p_star, p):
    rng = np.random.default_rng(3)
    n, m, a = 4, 7, 0.7
    x = rng.standard_normal((m, n))
    teacher, student = bbp.sphere_rows(p_star, n, rng), bbp.sphere_rows(p, n, rng)
    h = bbp.hessian(x, teacher, student, a)
    w0, eps, d = student.ravel(), 1e-4, p * n
    fd = np.empty((d, d))
    for i in range(d):
        for j in range(d):
            e_i, e_j = np.eye(d)[i] * eps, np.eye(d)[j] * eps
            fd[i, j] = (_loss(w0 + e_i + e_j, x, teacher, a, p) - _loss(w0 + e_i - e_j, x, teacher, a, p)
                        - _loss(w0 - e_i + e_j, x, teacher, a, p) + _loss(w0 - e_i - e_j, x, teacher, a, p)) / (4 * eps**2)
    np.testing.assert_allclose(h, fd, atol=1e-6 * np.abs(h).max())


def test_sphere_rows_and_teacher_overlap():
    rng = np.random.default_rng(4)
    t = bbp.sphere_rows(2, 30, rng)
    np.testing.assert_allclose(np.sum(t**2, axis=1), 30)
    vecs = np.linalg.qr(rng.standard_normal((90, 3)))[0]  # p = 3
    q = np.linalg.qr(t.T)[0]
    proj = np.kron(np.eye(3), q @ q.T)  # span{w*_j} (x) R^p in the (k, i) -> k N + i layout
    np.testing.assert_allclose(bbp.teacher_overlap(vecs, t, 3), np.sum((proj @ vecs) ** 2, axis=0), rtol=1e-10)


def test_hessian_replicate_against_dense_eigh():
    model, sizes = HessianInit(p_star=1, p=2, a=0.7, alpha=3.0), {"N": 30, "M": 90}
    out = bbp.hessian_init(model, sizes, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    x = rng.standard_normal((90, 30))
    teacher, student = bbp.sphere_rows(1, 30, rng), bbp.sphere_rows(2, 30, rng)
    w, v = np.linalg.eigh(bbp.hessian(x, teacher, student, 0.7))
    assert out["min_eigenvalue"] == pytest.approx(w[0], rel=1e-10)
    assert out["cluster_eigenvalue"] == pytest.approx(w[:2].mean(), rel=1e-10)
    assert out["overlap_sq"] == pytest.approx(bbp.teacher_overlap(v[:, :1], teacher, 2)[0], rel=1e-8)
