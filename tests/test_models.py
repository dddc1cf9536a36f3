"""Shared specifications: validation messages, VALUES parsing, categorical parsers, sizes."""
import numpy as np
import pytest
from scipy import integrate

from overparam import (HessianInit, L1Transition, Lasso, MaxMargin, ParameterError, RandomFeatures, Ridge,
                       SpectralPR, SpikedCovariance, SpikedWigner)
from overparam.choices import gaussian_moments, parse_activation, parse_preprocessing, parse_spectrum
from overparam.params import Number


@pytest.mark.parametrize("cls, kw, name, valid", [
    (Ridge, {"gamma": -1}, "gamma", "> 0"),
    (Ridge, {"lam": -0.1}, "lam", ">= 0"),
    (Ridge, {"sigma2": np.nan}, "sigma2", ">= 0"),
    (RandomFeatures, {"psi1": 0}, "psi1", "> 0"),
    (RandomFeatures, {"activation": "softsign"}, "activation", "relu"),
    (RandomFeatures, {"activation": "0,1,0"}, "activation", "mustar > 0"),
    (MaxMargin, {"labels": "flip:0.5"}, "labels", "0 <= q < 1/2"),
    (MaxMargin, {"labels": "logistic:0"}, "labels", "beta > 0"),
    (MaxMargin, {"labels": "sign"}, "labels", "purenoise"),
    (Lasso, {"eps": 0}, "eps", "in (0, 1]"),
    (Lasso, {"eps": 1.5}, "eps", "in (0, 1]"),
    (Lasso, {"prior": "laplace"}, "prior", "gauss or rademacher"),
    (Lasso, {"delta": 2.0, "lam": 0.0}, "lam", "> 0 when delta >= 1"),
    (L1Transition, {"delta": 1.0}, "delta", "in (0, 1)"),
    (SpikedWigner, {"theta": -0.1}, "theta", ">= 0"),
    (SpikedCovariance, {"ell": 0.5}, "ell", ">= 1"),
    (SpikedCovariance, {"gamma": 0}, "gamma", "> 0"),
    (SpectralPR, {"alpha": 0}, "alpha", "> 0"),
    (SpectralPR, {"preprocessing": "truncated:0"}, "preprocessing", "c > 0"),
    (SpectralPR, {"preprocessing": "sqrt"}, "preprocessing", "identity"),
    (HessianInit, {"p": 0}, "p", "integer >= 1"),
    (HessianInit, {"p_star": 1.5}, "p_star", "integer >= 1"),
    (HessianInit, {"a": 0}, "a", "> 0"),
])
def test_invalid_parameters_name_value_and_range(cls, kw, name, valid):
    with pytest.raises(ValueError) as err:
        cls(**kw)
    assert isinstance(err.value, ParameterError)
    assert err.value.name == name and valid in str(err.value)


def test_grid_arrays_are_validated_elementwise():
    with pytest.raises(ParameterError, match="gamma = -2"):
        Ridge(gamma=np.array([1.0, -2.0, 3.0]))
    assert Ridge(gamma=np.array([1.0, 2.0]), lam=np.array([0.0, 0.1])).shape() == (2,)


def test_lasso_grid_may_cross_delta_one_at_lam_zero():
    assert Lasso(delta=np.array([0.5, 2.0]), lam=0.0).shape() == (2,)


def test_values_parsing():
    num = Number(1.0, "x", lo=0)
    assert num.parse("x", "0.1:10:4") == pytest.approx([0.1, 3.4, 6.7, 10.0])
    assert num.parse("x", "0,0.5,1") == [0.0, 0.5, 1.0]
    for bad in ("a", "1:2", "1:2:0", ""):
        with pytest.raises(ParameterError):
            num.parse("x", bad)
    with pytest.raises(ParameterError, match="x = -1"):
        num.parse("x", "-1,1")


def test_spectra():
    two = parse_spectrum("two-point:1,9,0.8")
    assert two.atoms.tolist() == [1, 9] and two.weights.tolist() == pytest.approx([0.8, 0.2])
    assert np.sort(two.for_dimension(10)).tolist() == [1] * 8 + [9] * 2
    power = parse_spectrum("power-law:1.5,500")
    assert power.eigenvalues.mean() == pytest.approx(1.0)
    assert power.eigenvalues[0] / power.eigenvalues[1] == pytest.approx(2 ** 1.5)
    assert parse_spectrum("isotropic").for_dimension(3).tolist() == [1, 1, 1]


def test_spectrum_files(tmp_path):
    np.save(tmp_path / "e.npy", np.array([1.0, 2.0, 2.0, 0.0]))
    spec = parse_spectrum(f"file:{tmp_path / 'e.npy'}")
    assert spec.atoms.tolist() == [0, 1, 2] and spec.weights.tolist() == [0.25, 0.25, 0.5]
    (tmp_path / "e.txt").write_text("1 2\n3\n")
    assert parse_spectrum(f"file:{tmp_path / 'e.txt'}").eigenvalues.tolist() == [1, 2, 3]
    (tmp_path / "bad.txt").write_text("1 x\n")
    for path in ("missing.npy", tmp_path / "bad.txt"):
        with pytest.raises(ParameterError, match="spectrum"):
            parse_spectrum(f"file:{path}")
    np.save(tmp_path / "neg.npy", np.array([1.0, -1.0]))
    with pytest.raises(ParameterError):
        parse_spectrum(f"file:{tmp_path / 'neg.npy'}")


def _moments_by_quad(f):
    phi = lambda g: np.exp(-g * g / 2) / np.sqrt(2 * np.pi)  # noqa: E731
    e = [integrate.quad(lambda g: h(g) * phi(g), -40, 40, points=[0], limit=400)[0]
         for h in (f, lambda g: g * f(g), lambda g: f(g) ** 2)]
    return e[0], e[1], np.sqrt(e[2] - e[0] ** 2 - e[1] ** 2)


@pytest.mark.parametrize("name, mustar2", [("relu", 0.0908450569081), ("erf", 0.0401458728190),
                                           ("tanh", 0.0274153260354)])
def test_activation_moments(name, mustar2):
    act = parse_activation(name)
    assert act.mustar ** 2 == pytest.approx(mustar2, rel=1e-10)
    ref = _moments_by_quad(lambda g: float(act.func(np.array(g))))
    assert (act.mu0, act.mu1, act.mustar) == pytest.approx(ref, abs=1e-10)


def test_hermite_and_callable_activations():
    act = parse_activation("0.2,0.5,0.3")
    assert gaussian_moments(act.func) == pytest.approx((0.2, 0.5, 0.3), abs=1e-12)
    mine = parse_activation(lambda x: np.sin(x) + 0.1)
    assert (mine.mu0, mine.mu1) == pytest.approx((0.1, np.exp(-0.5)), abs=1e-12)  # E sin'(G) = e^{-1/2}


def test_preprocessings():
    y = np.array([0.5, 2.0, 9.0])
    assert parse_preprocessing("truncated:3")(y, 1.0).tolist() == [0.5, 2.0, 0.0]
    mm = parse_preprocessing("mondelli-montanari")
    assert mm(y, 2.0) == pytest.approx((y - 1) / (y + 1))
    assert mm(y, 0.3) == pytest.approx(1 - 1 / y)
    assert parse_preprocessing("luo-alghamdi-lu")(y, 5.0) == pytest.approx(1 - 1 / y)


def test_sizes_and_realised_ratios():
    r = Ridge(gamma=1.5)
    assert r.sizes(401) == {"n": 401, "p": 602} and r.at_sizes({"n": 401, "p": 602}).gamma == 602 / 401
    assert Ridge(gamma=1.5, spectrum="power-law:1,500").sizes(10) == {"n": 333, "p": 500}
    assert RandomFeatures(psi1=2, psi2=3).sizes(100) == {"d": 100, "N": 200, "n": 300}
    assert Lasso(delta=0.4).sizes(400) == {"n": 400, "p": 1000}
    assert HessianInit(alpha=2.5).sizes(100) == {"N": 100, "M": 250}
    with pytest.raises(ParameterError, match="n = 0"):
        Ridge().sizes(0)


def test_activation_lists_group_hermite_triples():
    from overparam.choices import split_activations
    assert split_activations("relu,tanh") == ["relu", "tanh"]
    assert split_activations("0,1,0.5") == ["0,1,0.5"]
    assert split_activations("tanh,0.1,0.5,0.3,erf") == ["tanh", "0.1,0.5,0.3", "erf"]
    with pytest.raises(ParameterError, match="activation"):
        RandomFeatures(activation=split_activations("relu,0.1,0.5")[1])
