"""The interactive explorer: its logic against the theory and the CLI, and the page in a real headless
browser (Chromium driven by Selenium): every model's default view renders (a screenshot of each is saved
for review), moving a slider redraws the curve with the theory's values, a bad value shows the CLI's message.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from overparam.verify import explore, registry
from overparam.verify.cli import main


@pytest.mark.parametrize("model", list(registry.models()))
def test_default_view_is_valid_and_matches_the_theory(model):
    view = explore.View.default(model)
    assert explore.validate(view) == {}
    entry = registry.model_entry(model)
    lines = explore.curves(view, points=40)
    assert len(lines) == 1 and lines[0]["x"].size >= 2
    x = lines[0]["x"]
    params = {k: entry.model.params()[k].parse(k, t)[0] for k, t in view.values.items() if k != view.x}
    direct = np.broadcast_to(entry.theory(entry.model(**params, **{view.x: x}))[view.metrics[0]], x.shape)
    np.testing.assert_array_equal(lines[0]["y"], direct)


def test_series_gives_one_line_per_value_and_metric():
    view = explore.View.default("ridge")
    view.series, view.series_values, view.metrics = "lam", "0,0.1,1", ["excess_risk", "bias"]
    lines = explore.curves(view, points=30)
    assert [line["label"] for line in lines][:2] == ["excess_risk, lam = 0", "bias, lam = 0"]
    assert len(lines) == 6


def test_bad_value_gives_the_cli_message(capsys):
    view = explore.View.default("ridge")
    view.values["lam"] = "-1"
    errors = explore.validate(view)
    assert main(["curve", "ridge", "--lam", "-1"]) == 2
    assert errors["lam"] in capsys.readouterr().err
    view.values["lam"] = "0,1"
    assert "one value" in explore.validate(view)["lam"]


def test_command_line_reproduces_the_curve(capsys):
    view = explore.View.default("ridge")
    view.values.update(lam="0.1", sigma2="0.5")
    view.x_start, view.x_stop = "0.5", "2"
    cmd = explore.command_line(view, points=7)
    assert cmd.startswith("overparam curve ridge --gamma 0.5:2:7") and "--lam 0.1" in cmd
    assert main(cmd.split()[1:] + ["--format", "csv"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    head = rows[0].split(",")
    risk = [float(r.split(",")[head.index("excess_risk")]) for r in rows[1:]]
    np.testing.assert_allclose(risk, explore.curves(view, points=7)[0]["y"], rtol=1e-12)


def test_csv_has_one_row_per_point():
    view = explore.View.default("max-margin")
    lines = explore.curves(view, points=25)
    text = explore.curve_csv(view, lines).splitlines()
    assert text[0].startswith("# overparam curve max-margin") and len(text) == 2 + 25


def test_simulation_overlay_uses_the_store_and_can_be_cancelled(tmp_path):
    view = explore.View.default("ridge")
    view.values["lam"] = "0.5"
    store = tmp_path / "r.sqlite"
    done = []
    pts = explore.simulation_points(view, 40, 3, 0, store, progress=lambda i, k: done.append((i, k)))
    assert len(pts) == explore.SIM_POINTS and done[-1] == (explore.SIM_POINTS, explore.SIM_POINTS)
    again = explore.simulation_points(view, 40, 3, 0, store)
    assert [p["y"] for p in again] == [p["y"] for p in pts]  # served from the store, identical
    assert explore.simulation_points(view, 40, 3, 0, store, cancelled=lambda: True) == []


def test_figure_renders_png_and_pdf():
    view = explore.View.default("ridge")
    lines = explore.curves(view, points=20)
    assert explore.figure_bytes(view, lines, [], "png")[:4] == b"\x89PNG"
    assert explore.figure_bytes(view, lines, [], "pdf")[:4] == b"%PDF"


# --------------------------------------------------------------------------- real browser
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.skip("Debian's chromium and chromium-driver are needed (.ci/run installs them)")
    from selenium import webdriver  # in the test extras: a missing install must fail, not skip
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1300,900"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = tmp_path_factory.mktemp("explore") / "results.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "overparam.verify.cli", "explore", "ridge", "--port", "0",
                             "--no-browser", "--store", str(store)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert match, line
    yield match.group(0)
    proc.terminate()
    proc.wait(timeout=10)


def _wait(driver, script: str, timeout: float = 60.0, what: str = ""):
    """Poll ``script`` in the page until it returns something truthy; on time-out report the page status."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    status = driver.execute_script("const d = window.Bokeh && Bokeh.documents[0]; "
                                   "const s = d && d.get_model_by_name('status'); return s ? s.text : '';")
    raise AssertionError(f"timed out waiting for {what or script}; page status: {status!r}")


MODEL = "return Bokeh.documents[0].get_model_by_name('{}')"
EXPR = "Bokeh.documents[0].get_model_by_name('{}')"
THEORY = "const d = window.Bokeh && Bokeh.documents[0]; const s = d && d.get_model_by_name('theory'); " \
         "return s && s.data.ys.length ? [s.data.xs, s.data.ys] : null;"


def _shadow(driver, name: str, selector: str):
    return driver.execute_script(
        f"const v = Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('{name}'));"
        f" return v.el.shadowRoot.querySelector('{selector}');")


def test_every_model_renders_and_is_screenshotted(browser, server):
    shots = Path(os.environ.get("OVERPARAM_SCREENSHOTS", Path(__file__).parents[2] / "build" / "explore"))
    shots.mkdir(parents=True, exist_ok=True)
    for model in registry.models():
        browser.get(f"{server}?model={model}")
        xs, ys = _wait(browser, THEORY, what=f"the curve of {model}")
        assert len(xs) == 1 and len(xs[0]) >= 2, model
        assert browser.execute_script(MODEL.format("model") + ".value") == model
        browser.save_screenshot(str(shots / f"{model}.png"))


def test_slider_redraws_with_the_theory_values(browser, server):
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{server}?model=ridge")
    _wait(browser, THEORY)
    handle = _shadow(browser, "slider_lam", ".noUi-handle")
    handle.click()
    for _ in range(20):
        handle.send_keys(Keys.ARROW_RIGHT)
    entry = registry.model_entry("ridge")
    view = explore.View.default("ridge")
    params = {k: entry.model.params()[k].parse(k, t)[0] for k, t in view.values.items() if k not in ("gamma", "lam")}
    end, lam, got, expected = time.monotonic() + 60, 0.0, None, None
    while time.monotonic() < end:  # the page redraws after each key press: wait for the final value
        lam = float(browser.execute_script(f"return {EXPR.format('param_lam')}.value"))
        xs, ys = browser.execute_script(THEORY)
        x = np.asarray(xs[0], dtype=float)
        got = np.array([np.nan if v is None else v for v in ys[0]], dtype=float)
        expected = entry.theory(entry.model(gamma=x, lam=lam, **params))["excess_risk"]
        if lam > 0 and np.allclose(got, expected, rtol=1e-9, equal_nan=True):
            break
        time.sleep(0.2)
    assert lam > 0
    np.testing.assert_allclose(got, np.where(np.isfinite(expected), expected, np.nan), rtol=1e-9)


def test_bad_value_shows_the_message_next_to_the_control(browser, server):
    browser.get(f"{server}?model=ridge")
    _wait(browser, THEORY)
    box = _shadow(browser, "param_sigma2", "input")
    box.clear()
    box.send_keys("-3\n")
    text = _wait(browser, f"const t = {EXPR.format('error_sigma2')}.text; return t.includes('-3') && t;")
    assert text.startswith("sigma2") and "&gt;= 0" in text
    assert "fix the highlighted value" in browser.execute_script(MODEL.format("status") + ".text")


def _press(driver, name: str) -> None:
    _shadow(driver, name, "button").click()


def _type(driver, name: str, text: str) -> None:
    box = _shadow(driver, name, "input")
    box.clear()
    box.send_keys(text + "\n")


def test_simulate_button_overlays_the_runner_results(browser, server):
    browser.get(f"{server}?model=ridge")
    _wait(browser, THEORY)
    _type(browser, "param_lam", "0.5")
    _wait(browser, "return " + EXPR.format("param_lam") + ".value === '0.5'")
    _type(browser, "sim_n", "40")
    _type(browser, "sim_reps", "3")
    _press(browser, "simulate")
    sims = _wait(browser, "const s = Bokeh.documents[0].get_model_by_name('simulation'); "
                          "return s.data.y.length ? [s.data.x, s.data.y] : null;", timeout=120)
    view = explore.View.default("ridge")
    view.values["lam"] = "0.5"
    expected = explore.simulation_points(view, 40, 3, 0, None)
    np.testing.assert_allclose(sims[0], [p["x"] for p in expected], rtol=1e-12)
    np.testing.assert_allclose(sims[1], [p["y"] for p in expected], rtol=1e-12)
    assert "n = 40" in browser.execute_script(MODEL.format("status") + ".text")


def test_download_data_and_command_line_follow_the_view(browser, server):
    browser.get(f"{server}?model=ridge")
    _wait(browser, THEORY)
    _type(browser, "param_sigma2", "0.25")
    text = _wait(browser, "const t = " + EXPR.format("csv") + ".data.text[0]; "
                          "return t.includes('--sigma2 0.25') ? t : null;")
    assert text.startswith("# overparam curve ridge --gamma")
    assert "--sigma2 0.25" in browser.execute_script(MODEL.format("command") + ".text")
    _press(browser, "figure")
    links = _wait(browser, MODEL.format("figure_links") + ".text")
    assert "data:image/png;base64," in links and "data:application/pdf;base64," in links
