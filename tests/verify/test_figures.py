"""Figures: the journal style helpers, the tidy CSV and caption, every registered figure at tiny sizes, the
store serving a rerun, and the top-level API (overparam.curve / simulate / check / figure)."""
import csv
import dataclasses
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import overparam
from overparam.errors import ParameterError
from overparam.verify import cli, figures, registry, runner
from overparam.verify import lasso as vlasso


# ------------------------------------------------------------------------------------------ helpers
def test_with_gaps_turns_inf_into_a_gap_and_breaks_the_line_at_a_singularity():
    x, y = figures.with_gaps([0.5, 0.9, 1.0, 1.1], [1.0, 10.0, np.inf, 10.0])
    assert np.isnan(y[2]) and np.isfinite(y[[0, 1, 3]]).all()
    x, y = figures.with_gaps([0.5, 0.9, 1.1], [1.0, 10.0, 10.0], gaps_at=(1.0,))
    assert list(x) == [0.5, 0.9, 1.0, 1.1] and np.isnan(y[2])


def test_refine_adds_points_approaching_the_singularity_from_both_sides():
    x = figures.refine(np.geomspace(0.1, 10, 7), (1.0,), decades=4)
    assert np.all(np.diff(x) > 0) and {0.9999, 1.0001} <= {round(v, 10) for v in x}


@figures.styled
def _draw_small(out_dir, width=None):
    fig, (ax,) = figures.new_figure(width)
    figures.line(ax, [0.5, 1.0, 2.0], [1.0, np.inf, 3.0], gaps_at=(1.0,), **figures.look(0), label="a")
    figures.jump(ax, 1.5, 0.0, 2.0, color=figures.PALETTE[1])
    figures.legend_below(fig, ax)
    data = figures.Table()
    data.theory("a", "risk", [1.0, 3.0], gamma=[0.5, 2.0], spectrum="isotropic")
    recs = [{"risk": 1.1, "risk_se": 0.1, "reps": 4, "seed": 7, "n": 50, "p": 25}]
    data.simulation("a", "risk", recs, 50, gamma=0.5, spectrum="isotropic")
    return fig, figures.save(fig, out_dir, "small", data, "A small test figure.")


def test_style_is_local_and_the_backend_untouched(tmp_path):
    before = (matplotlib.get_backend(), dict(matplotlib.rcParams))
    fig, png = _draw_small(tmp_path)
    assert (matplotlib.get_backend(), dict(matplotlib.rcParams)) == before
    assert fig.get_figwidth() == pytest.approx(3.4)
    assert _draw_small(tmp_path, "double")[0].get_figwidth() == pytest.approx(7.0)
    with pytest.raises(ParameterError):
        _draw_small(tmp_path, "wide")


def test_no_axes_title_no_solid_vertical_jump_and_legend_outside(tmp_path):
    fig, _ = _draw_small(tmp_path)
    (ax,) = fig.axes
    assert ax.get_title() == ""
    vertical = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 2 and np.ptp(ln.get_xdata()) == 0]
    assert vertical and all(ln.get_linestyle() == ":" for ln in vertical)
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent()
    assert legend.y1 <= ax.get_window_extent().y0 + 1  # below the axes, not over the data


def test_save_writes_vector_pdf_with_embedded_fonts_300dpi_png_tidy_csv_and_caption(tmp_path):
    from PIL import Image

    _, png = _draw_small(tmp_path)
    pdf = (tmp_path / "small.pdf").read_bytes()
    assert b"/FontFile2" in pdf and b"/Type3" not in pdf  # TrueType (fonttype 42) embedded
    image = Image.open(png)
    assert image.size[0] == round(3.4 * 300)
    assert "A small test figure." in image.info["Description"]
    with open(tmp_path / "small.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:9] == list(figures.Table.HEAD)
    assert [r["kind"] for r in rows] == ["theory", "theory", "simulation"]
    sim = rows[2]
    assert (sim["value"], sim["se"], sim["n"], sim["reps"], sim["seed"], sim["size_p"]) == ("1.1", "0.1", "50", "4",
                                                                                           "7", "25")
    assert {r["figure"] for r in rows} == {"small"} and rows[1]["gamma"] == "2"
    caption = (tmp_path / "small.txt").read_text()
    assert "A small test figure." in caption and "n = 50" in caption and "reps = 4" in caption and "seed = 7" in caption


# ---------------------------------------------------------------------------------- every figure
@pytest.mark.parametrize("figure", list(registry.figures().values()), ids=lambda f: f.name)
def test_every_figure_fast(figure, tmp_path):
    with threadpool_limits(1):
        png = figure.draw(tmp_path, runner.RunOptions(), fast=True)
    assert png == tmp_path / f"{figure.name}.png"
    for ext in ("png", "pdf", "csv", "txt"):
        assert (tmp_path / f"{figure.name}.{ext}").stat().st_size > 0
    with open(tmp_path / f"{figure.name}.csv") as fh:
        rows = list(csv.DictReader(fh))
    kinds = {r["kind"] for r in rows}
    assert "simulation" in kinds and "theory" in kinds and kinds <= {"theory", "simulation", "finite-n exact"}
    sims = [r for r in rows if r["kind"] == "simulation"]
    assert all(r["n"] and r["reps"] and r["seed"] for r in sims)
    assert all(r["value"] not in ("inf", "-inf") for r in rows)  # singularities are gaps (NaN), never values
    assert "Simulations: n = " in (tmp_path / f"{figure.name}.txt").read_text()


def test_overparam_list_names_every_figure(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in registry.figures())
    assert {"candes-sur", "spectral-pr"} <= set(registry.figures())


def test_a_rerun_is_served_by_the_store(tmp_path, monkeypatch):
    options = runner.RunOptions(store=tmp_path / "store.sqlite")
    vlasso.draw_l1_transition(tmp_path, options, fast=True)

    class NoSimulation:
        def __getattr__(self, name):
            raise AssertionError("a stored replicate was recomputed")

    monkeypatch.setattr(vlasso, "sim", NoSimulation())
    vlasso.draw_l1_transition(tmp_path, options, fast=True)


# --------------------------------------------------------------------------------------------- API
def test_import_overparam_stays_light():
    code = ("import sys, overparam; assert 'matplotlib' not in sys.modules and 'overparam.verify.api' not in "
            "sys.modules; overparam.curve; assert 'matplotlib' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_curve_matches_the_theory_on_the_cartesian_grid():
    from overparam.theory import ridge as th

    table = overparam.curve("ridge", gamma=[0.5, 2.0], lam="0,0.1", sigma2=0.25)
    assert list(table["gamma"]) == [0.5, 0.5, 2.0, 2.0] and list(table["lam"]) == [0, 0.1, 0, 0.1]
    expected = th.theory(overparam.Ridge(gamma=np.repeat([0.5, 2.0], 2), lam=np.tile([0, 0.1], 2), sigma2=0.25))
    np.testing.assert_array_equal(np.asarray(table["excess_risk"]), expected["excess_risk"])
    labels = overparam.curve("max-margin", psi=2.0, labels=["noiseless", "flip:0.1"])
    assert list(labels["labels"]) == ["noiseless", "flip:0.1"]


def test_tables_are_dicts_of_arrays_without_pandas(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    table = overparam.curve("ridge", gamma=np.array([0.5, 2.0]))
    assert isinstance(table, dict) and isinstance(table["excess_risk"], np.ndarray) and table["gamma"].size == 2


def test_simulate_matches_the_runner_and_the_callable_subpackage():
    import overparam.simulate.ridge  # noqa: F401 - the subpackage is imported and still callable

    table = overparam.simulate("ridge", n=30, reps=3, gamma=2.0, lam=[0.0, 0.1], store=False)
    recs = runner.run(registry.model_entry("ridge"), overparam.Ridge(gamma=2.0, lam=np.array([0.0, 0.1])), 30, 3)
    np.testing.assert_array_equal(np.asarray(table["excess_risk"]), [r["excess_risk"] for r in recs])


def test_check_returns_the_verdict_rows(monkeypatch):
    from overparam.verify import check as check_mod

    @dataclasses.dataclass
    class Row:  # the fields of check.Row that matter here
        parameters: dict
        metric: str
        verdict: str

    seen = []

    def run_check(fams, full, options):
        seen.append(fams)
        return [Row({"gamma": 2.0}, "bias", "pass")], True

    monkeypatch.setattr(check_mod, "run_check", run_check)
    table = overparam.check("ridge")
    assert list(table["verdict"]) == ["pass"] and list(table["metric"]) == ["bias"] and list(table["gamma"]) == [2.0]
    assert [f.name for f in seen[0]] == ["ridge"]


def test_figure_api_validates_and_draws_all(tmp_path, monkeypatch):
    with pytest.raises(ParameterError):
        overparam.figure("no-such-figure", out=tmp_path)
    with pytest.raises(ParameterError):
        overparam.figure("ridge-covariance", out=tmp_path, width="wide")
    drawn = []
    fake = {k: registry.Figure(k, "", lambda out, options, fast, width, k=k: drawn.append((k, width)) or out / k)
            for k in ("one", "two")}
    monkeypatch.setattr(registry, "figures", lambda: fake)
    assert overparam.figure("all", out=tmp_path, width="single", store=False) == [tmp_path / "one", tmp_path / "two"]
    assert drawn == [("one", "single"), ("two", "single")]
    assert cli.main(["figure", "one", "--out", str(tmp_path), "--width", "double", "--no-store"]) == 0
    assert cli.main(["figure", "one", "--out", str(tmp_path), "--width", "wide"]) == 2
