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
