"""The command line as INTERFACE.md specifies it: verbs, grids, formats, exit codes, one-line errors."""
import json
import subprocess
import sys

import numpy as np
import pytest

from overparam.verify import cli

MODELS = ["ridge", "random-features", "max-margin", "lasso", "l1-transition", "spiked-wigner",
          "spiked-covariance", "spectral-pr", "hessian-init"]
FIGURES = ["ridge-double-descent", "ridge-covariance", "rf-double-descent", "max-margin", "lasso-risk",
           "l1-transition", "bbp-transitions", "hessian-init"]


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


BAD = [
    ("curve ridge --gamma -1", "gamma"), ("curve ridge --lam -0.1", "lam"),
    ("curve ridge --spectrum two-point:1", "spectrum"), ("curve ridge --spectrum file:/nonexistent.npy", "spectrum"),
    ("simulate ridge --gamma 2 --n 50 --reps 0 --no-store", "reps"), ("curve ridge --gamma abc", "gamma"),
    ("curve ridge --nope 1", "--nope"), ("curve nosuchmodel", "MODEL"),
    ("curve random-features --psi1 0", "psi1"), ("curve random-features --psi2 -1", "psi2"),
    ("curve random-features --lam -1", "lam"), ("curve random-features --activation swish", "activation"),
    ("curve random-features --activation 0,1,0", "activation"),
    ("curve max-margin --psi 0", "psi"), ("curve max-margin --labels flip:0.5", "labels"),
    ("curve max-margin --labels logistic:0", "labels"), ("curve max-margin --labels sign", "labels"),
    ("curve lasso --delta 0", "delta"), ("curve lasso --eps 0", "eps"), ("curve lasso --eps 1.5", "eps"),
    ("curve lasso --sigma2 -1", "sigma2"), ("curve lasso --lam -1", "lam"),
    ("curve lasso --delta 2 --lam 0", "lam"), ("curve lasso --prior laplace", "prior"),
    ("curve l1-transition --delta 1", "delta"),
    ("curve spiked-wigner --theta -1", "theta"), ("curve spiked-covariance --ell 0.5", "ell"),
    ("curve spiked-covariance --gamma 0", "gamma"), ("curve spectral-pr --alpha 0", "alpha"),
    ("curve spectral-pr --preprocessing truncated:0", "preprocessing"),
    ("curve spectral-pr --preprocessing foo", "preprocessing"), ("curve hessian-init --p 0", "p"),
    ("curve hessian-init --p_star 0", "p_star"), ("curve hessian-init --a 0", "a"),
]


@pytest.mark.parametrize("argv, name", BAD)
def test_bad_input_exits_2_with_one_line_naming_the_parameter(capsys, argv, name):
    code, out, err = run(capsys, *argv.split())
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and name in err and "Traceback" not in err


def test_non_numeric_spectrum_file(capsys, tmp_path):
    bad = tmp_path / "eigs.txt"
    bad.write_text("1 2 three\n")
    code, _, err = run(capsys, "curve", "ridge", "--spectrum", f"file:{bad}")
    assert code == 2 and "spectrum" in err and len(err.strip().splitlines()) == 1


def test_console_script_bad_input_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "overparam.verify.cli", "curve", "ridge", "--gamma", "-1"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "gamma = -1" in proc.stderr


def test_list_shows_every_model_and_figure(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    for name in MODELS + FIGURES:
        assert name in out
    assert "--p_star" in out and "--sigma2" in out


def test_curve_grid_is_the_cartesian_product(capsys):
    code, out, _ = run(capsys, "curve", "ridge", "--gamma", "0.5:2:4", "--lam", "0,0.1", "--format", "csv")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 1 + 8
    header = lines[0].split(",")
    for key in ["gamma", "lam", "r2", "sigma2", "spectrum", "excess_risk", "bias", "variance", "train_error", "norm2"]:
        assert key in header


def test_curve_json_writes_infinity_at_the_ridgeless_singularity(capsys):
    code, out, _ = run(capsys, "curve", "ridge", "--gamma", "0.5,1,2", "--lam", "0", "--format", "json")
    assert code == 0 and "Infinity" in out
    recs = json.loads(out)
    assert [r["gamma"] for r in recs] == [0.5, 1.0, 2.0]
    assert recs[1]["excess_risk"] == float("inf") and np.isfinite(recs[0]["excess_risk"])
    # isotropic ridgeless closed forms (HMRT): sigma2 gamma/(1 - gamma) below 1, r2(1 - 1/gamma) + sigma2/(gamma - 1) above
    assert recs[0]["excess_risk"] == pytest.approx(0.5 * 0.5 / 0.5)
    assert recs[2]["excess_risk"] == pytest.approx(1 * 0.5 + 0.5 / 1)


def test_simulate_json_has_sizes_means_and_standard_errors(capsys, tmp_path):
    out_file = tmp_path / "sim.json"
    code, _, _ = run(capsys, "simulate", "ridge", "--gamma", "2", "--lam", "0,0.1", "--n", "40", "--reps", "3",
                     "--seed", "5", "--no-store", "--format", "json", "--out", str(out_file))
    recs = json.loads(out_file.read_text())
    assert code == 0 and len(recs) == 2
    for r in recs:
        assert (r["n"], r["p"], r["reps"], r["seed"]) == (40, 80, 3, 5)
        for m in ["excess_risk", "bias", "variance", "train_error", "norm2"]:
            assert np.isfinite(r[m]) and r[m + "_se"] >= 0


# ------------------------------------------------------------------------------- issue 12 cases
def csv_rows(out: str) -> list[dict]:
    lines = out.strip().splitlines()
    keys = lines[0].split(",")
    return [dict(zip(keys, line.split(","))) for line in lines[1:]]


def one_line_error(err: str, *words: str) -> bool:
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err and all(w in err for w in words)


@pytest.mark.parametrize("spectrum, mean", [("isotropic", 1.0), ("two-point:1,9", 5.0)])
@pytest.mark.parametrize("lam", ["1e200", "1e300"])
def test_ridge_huge_penalty_reaches_the_null_estimator(capsys, lam, spectrum, mean):
    """lam -> infinity: beta_hat -> 0, so excess_risk -> r2 <s> and train_error -> r2 <s> + sigma2."""
    code, out, _ = run(capsys, "curve", "ridge", "--lam", lam, "--r2", "2", "--sigma2", "0.5",
                       "--spectrum", spectrum, "--format", "json")
    (rec,) = json.loads(out)
    assert code == 0
    assert rec["excess_risk"] == pytest.approx(2 * mean, rel=1e-12) and rec["variance"] == pytest.approx(0, abs=1e-12)
    assert rec["train_error"] == pytest.approx(2 * mean + 0.5, rel=1e-12)


@pytest.mark.parametrize("gamma", ["1e155", "1e300"])
def test_ridge_huge_gamma_is_finite(capsys, gamma):
    """p/n -> infinity at fixed lam: nothing is learnt (excess_risk -> r2), the penalty dominates the fit."""
    code, out, _ = run(capsys, "curve", "ridge", "--gamma", gamma, "--lam", "0,0.1", "--format", "json")
    assert code == 0
    for rec in json.loads(out):
        assert rec["excess_risk"] == pytest.approx(1.0, rel=1e-9)
        assert all(np.isfinite(rec[m]) for m in ("bias", "variance", "train_error", "norm2"))


@pytest.mark.parametrize("c", [5000.0, 1e5])
def test_spectral_pr_large_truncation_is_finite(capsys, c):
    """truncated:c with c large: the bulk edge sits at lam ~ c, top eigenvalue = c (1/alpha + E[T/(c - T)])
    ~ c/alpha + E[y]/1 = c/alpha + 1 (T = y below c; the mass above c is exp(-c/2) small)."""
    code, out, _ = run(capsys, "curve", "spectral-pr", "--preprocessing", f"truncated:{c:g}", "--alpha", "2",
                       "--format", "json")
    (rec,) = json.loads(out)
    assert code == 0 and rec["overlap_sq"] == 0
    assert rec["top_eigenvalue"] == pytest.approx(c / 2 + 1, rel=1e-6)


def test_random_features_peak_train_error_is_zero_next_to_the_peak(capsys):
    code, out, _ = run(capsys, "curve", "random-features", "--psi1", "1", "--psi2", "1.0000000000001,1",
                       "--lam", "0", "--format", "json")
    assert code == 0
    for rec in json.loads(out):
        assert rec["test_error"] == float("inf") and rec["train_error"] == 0.0


def test_max_margin_near_pure_noise_converges_to_the_pure_noise_margin(capsys):
    """flip:q -> 1/2 is pure noise: the margin tends to Gardner's pure-noise margin at the same psi."""
    code, out, err = run(capsys, "curve", "max-margin", "--labels", "flip:0.4999999,purenoise", "--psi", "2",
                         "--format", "json")
    near, noise = json.loads(out)
    assert code == 0 and err == ""
    assert near["labels"] == "flip:0.4999999"  # the label is not rounded to the invalid flip:0.5
    assert near["margin"] == pytest.approx(noise["margin"], rel=1e-6)
    assert near["test_error"] == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("argv, words", [
    ("simulate ridge --n 10000000 --reps 2 --no-store", ["n = 10000000", "memory", "needs about"]),
    ("simulate ridge --spectrum power-law:1,100000 --reps 2 --no-store", ["spectrum", "memory", "needs about"]),
    ("simulate hessian-init --n 100000 --reps 1 --no-store", ["memory"]),
    ("simulate ridge --n 20 --reps 2 --no-store --seed 99999999999999999999999", ["seed", "9223372036854775807"]),
    ("simulate ridge --n 20 --reps 2 --no-store --seed -1", ["seed"]),
    ("curve random-features --activation 1e300,1e300,1e300", ["activation", "1e100"]),
    ("curve random-features --activation 0,1e20,1", ["activation", "|mu1| <= 1e12 mustar"]),
    ("simulate random-features --n 20 --reps 2 --no-store", ["n = 20", "--d"]),
    ("simulate ridge --d 20 --reps 2 --no-store", ["d = 20", "--n"]),
    ("simulate ridge --spectrum power-law:1,40 --n 50 --reps 2 --no-store", ["n = 50", "omitted or 20"]),
    ("simulate l1-transition --n 20 --reps 2 --no-store", ["l1-transition", "simulator"]),
    ("curve", ["MODEL"]),
])
def test_refused_input_exits_2_with_one_line(capsys, argv, words):
    code, out, err = run(capsys, *argv.split())
    assert code == 2 and out == "" and one_line_error(err, *words), err


def test_two_dimensional_spectrum_file_is_refused(capsys, tmp_path):
    np.save(tmp_path / "cov.npy", np.eye(4))
    (tmp_path / "cov.txt").write_text("1 0\n0 2\n")
    for name in ("cov.npy", "cov.txt"):
        code, _, err = run(capsys, "curve", "ridge", "--spectrum", f"file:{tmp_path / name}")
        assert code == 2 and one_line_error(err, "spectrum", "2-D", "eigvalsh")
    (tmp_path / "column.txt").write_text("1\n2\n3\n")
    assert run(capsys, "curve", "ridge", "--spectrum", f"file:{tmp_path / 'column.txt'}")[0] == 0


def test_listed_spectrum_takes_n_from_the_list(capsys):
    code, out, _ = run(capsys, "simulate", "ridge", "--spectrum", "power-law:1,40", "--gamma", "2", "--reps", "2",
                       "--no-store", "--format", "json")
    (rec,) = json.loads(out)
    assert code == 0 and (rec["n"], rec["p"]) == (20, 40)


def test_model_without_simulator_shows_no_simulation_size(capsys):
    _, out, _ = run(capsys, "list")
    line = next(x for x in out.splitlines() if x.startswith("l1-transition"))
    assert "no simulator" in line and "--n" not in line


def _fail_with(monkeypatch, exc):
    from overparam.verify import registry

    entry = registry.model_entry("ridge")

    def boom(model):
        raise exc

    monkeypatch.setitem(registry.models.__globals__, "models",
                        lambda: {**{e.name: e for f in registry.families().values() for e in f.models},
                                 "ridge": type(entry)(entry.model, boom)})


def test_internal_error_exits_3_with_one_line_and_debug_shows_the_traceback(capsys, monkeypatch):
    _fail_with(monkeypatch, ValueError("math domain error"))
    code, out, err = run(capsys, "curve", "ridge")
    assert code == 3 and out == "" and one_line_error(err, "internal error", "ValueError", "--debug")
    code, _, err = run(capsys, "--debug", "curve", "ridge")
    assert code == 3 and "Traceback" in err and "math domain error" in err


def test_convergence_failure_exits_3_with_residual_and_iterations(capsys, monkeypatch):
    from overparam.errors import ConvergenceError

    _fail_with(monkeypatch, ConvergenceError("a solver", 1.5e-3, 77))
    code, _, err = run(capsys, "curve", "ridge")
    assert code == 3 and one_line_error(err, "residual 0.0015", "77 iterations")


def test_closed_pipe_exits_quietly():
    """`overparam curve ... | head -1`: no BrokenPipe traceback, exit 141 (128 + SIGPIPE)."""
    proc = subprocess.Popen([sys.executable, "-m", "overparam.verify.cli", "curve", "ridge", "--gamma", "0.1:10:20000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == ""


def test_help_lists_models_values_syntax_and_exit_codes(capsys):
    code, out, _ = run(capsys, "curve", "--help")
    assert code == 0 and "start:stop:count" in out
    assert all(name in out for name in MODELS)
    code, out, _ = run(capsys, "simulate", "--help")
    assert code == 0 and "ridge" in out and "l1-transition" not in out  # simulate lists models with a simulator
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "exit codes" in out and all(f"  {c} " in out for c in ("0", "1", "2", "3"))


@pytest.mark.parametrize("model", MODELS)
def test_model_help_lists_parameters_ranges_defaults_and_metric_definitions(capsys, model):
    from overparam.verify import registry

    code, out, _ = run(capsys, "curve", model, "--help")
    cls = registry.model_entry(model).model
    assert code == 0
    for name, spec in cls.params().items():
        line = next(x for x in out.splitlines() if x.strip().startswith(f"--{name} "))
        assert f"default {spec.default}" in line and spec.valid_text() in line
    for metric in cls.METRICS:
        line = next(x for x in out.splitlines() if x.strip().startswith(metric + " "))
        assert cls.METRIC_DOCS[metric] in line  # its definition follows the name
    assert "INTERFACE.md" not in out and "formulas/" not in out


def test_help_and_readme_point_at_nothing_outside_the_repository(capsys):
    from pathlib import Path

    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out + (Path(__file__).parents[2] / "README.md").read_text()
    assert "INTERFACE.md" not in text and "formulas/" not in text


@pytest.mark.parametrize("argv", [["--help"], ["list"], ["curve", "ridge"], ["curve", "random-features"]])
def test_fast_commands_import_no_heavy_module(argv):
    """numba, matplotlib, scipy.stats and dask stay out of --help, list and curve (startup latency)."""
    code = ("import sys, contextlib, io\nfrom overparam.verify import cli\n"
            f"with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit): cli.main({argv!r})\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('numba', 'matplotlib', 'dask', 'distributed')"
            " or m.startswith('scipy.stats') or m.startswith('overparam.simulate.')]\n"
            "print(heavy)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr
