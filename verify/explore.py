"""``overparam explore [MODEL]``: a local web page with live theory curves (Bokeh server).

Every control is generated from the registry and the model classes (parameters with their declared
ranges, defaults and categorical spellings, metrics), so a new family appears without new UI code:

- one text box per parameter (numeric parameters also get a slider over their declared range, or a
  range around the default where the declared one is unbounded); a bad value shows the CLI's one-line
  message next to its control and never reaches the theory;
- the x-axis parameter with its range (500 points), up to one "series" parameter with a comma list of
  values, and the metrics to plot;
- the theory curve is recomputed on every change (one vectorised ``theory(model)`` call per series value);
  documented singularities (inf) and undefined regions (NaN) are drawn as gaps;
- "simulate" runs a small overlay (a few x points, n and reps from the boxes) in a background thread
  through the same runner and results store as ``overparam simulate`` (cached points reappear at once),
  with progress, and "cancel" stops it between points;
- "download CSV" saves the current curve, "figure" renders the current view as PNG and PDF with the
  figure style of ``overparam figure``, and the equivalent ``overparam curve ...`` command is shown.

Bokeh is an optional extra: ``pip install -e ".[explore]"``. The server listens on 127.0.0.1 only.
"""
from __future__ import annotations

import base64
import html
import io
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from overparam.errors import OverparamError, ParameterError

from . import registry

#: Points of a theory curve.
POINTS = 500
#: Simulated x points of an overlay.
SIM_POINTS = 6
#: Parameters preferred as the default x axis (the models' natural ratio or signal strength), in order.
X_PREFERENCE = ("gamma", "psi", "psi1", "delta", "theta", "ell", "alpha", "t")
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


# ------------------------------------------------------------------------- pure logic (no Bokeh)
def slider_range(spec) -> tuple[float, float]:
    """A finite slider range for a numeric parameter: its declared range where both ends are finite,
    else a range around the default inside the declared bounds."""
    lo = spec.lo if spec.lo is not None else min(0.0, 2 * float(spec.default) - 1)
    hi = spec.hi
    if hi is None:
        hi = max(4 * abs(float(spec.default)), lo + 1.0, 1.0)
    if spec.lo_open or spec.hi_open:
        eps = 1e-3 * (hi - lo)
        lo, hi = lo + (eps if spec.lo_open else 0.0), hi - (eps if spec.hi_open else 0.0)
    return float(lo), float(hi)


@dataclass
class View:
    """What the page shows: model, parameter texts, x axis, series and metrics."""

    model: str
    values: dict[str, str]
    x: str
    x_start: str
    x_stop: str
    series: str = "(none)"
    series_values: str = ""
    metrics: list[str] = field(default_factory=list)

    @classmethod
    def default(cls, model: str) -> "View":
        m = registry.model_entry(model).model
        specs = m.params()
        numeric = [k for k, s in specs.items() if not s.categorical and not getattr(s, "integer", False)]
        numeric = numeric or [k for k, s in specs.items() if not s.categorical]
        x = next((k for k in X_PREFERENCE if k in numeric), numeric[0])
        lo, hi = slider_range(specs[x])
        return cls(model, {k: str(s.default) for k, s in specs.items()}, x, f"{lo:g}", f"{hi:g}",
                   metrics=[m.METRICS[0]])


def validate(view: View) -> dict[str, str]:
    """Parameter (or control) name -> one-line error message; empty when the view is valid."""
    specs = registry.model_entry(view.model).model.params()
    errors: dict[str, str] = {}
    for name, text in view.values.items():
        if name in (view.x, view.series):
            continue
        try:
            values = specs[name].parse(name, text)
            if len(values) != 1:
                raise ParameterError(name, text, "one value (use the series menu for several)")
        except ValueError as exc:
            errors[name] = str(exc).splitlines()[0]
    for key, text in (("x_start", view.x_start), ("x_stop", view.x_stop)):
        try:
            specs[view.x].validate(view.x, float(text))
        except ValueError as exc:
            errors[key] = str(exc).splitlines()[0]
    if view.series != "(none)":
        try:
            specs[view.series].parse(view.series, view.series_values)
        except ValueError as exc:
            errors["series_values"] = str(exc).splitlines()[0]
    if not view.metrics:
        errors["metrics"] = "choose at least one metric"
    return errors


def _scalar_values(view: View, specs: dict) -> dict[str, Any]:
    return {k: specs[k].parse(k, t)[0] for k, t in view.values.items() if k not in (view.x, view.series)}


def series_list(view: View) -> list[Any]:
    specs = registry.model_entry(view.model).model.params()
    if view.series == "(none)":
        return [None]
    return specs[view.series].parse(view.series, view.series_values)


def _label(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(getattr(value, "label", value))


def _line_label(view: View, metric: str, series: Any) -> str:
    return metric if series is None else f"{metric}, {view.series} = {_label(series)}"


def curves(view: View, points: int = POINTS) -> list[dict[str, Any]]:
    """The theory curves of a valid view: one dict (label, metric, series value, x, y) per line.
    inf and NaN stay in y (drawn as gaps)."""
    entry = registry.model_entry(view.model)
    specs = entry.model.params()
    x = np.linspace(float(view.x_start), float(view.x_stop), points)
    if getattr(specs[view.x], "integer", False):
        x = np.unique(np.round(x))
    base = _scalar_values(view, specs)
    out = []
    for s in series_list(view):
        kw = dict(base, **{view.x: x})
        if s is not None:
            kw[view.series] = s
        theory = entry.theory(entry.model(**kw))
        for metric in view.metrics:
            y = np.broadcast_to(np.asarray(theory[metric], dtype=float), x.shape)
            out.append({"label": _line_label(view, metric, s), "metric": metric, "series": s, "x": x, "y": np.array(y)})
    return out


def y_limits(lines: list[dict[str, Any]]) -> tuple[float, float]:
    """A y range showing the curves' bulk: from 0 (or the minimum, if negative) up to the maximum, capped at
    the 95th percentile plus half the range below it (a divergence such as the ridgeless peak would
    otherwise flatten everything else); the zoom tools show more."""
    y = np.concatenate([line["y"][np.isfinite(line["y"])] for line in lines] or [np.zeros(0)])
    if y.size == 0:
        return 0.0, 1.0
    lo = min(float(y.min()), 0.0)
    q95 = float(np.quantile(y, 0.95))
    hi = min(float(y.max()), q95 + 0.5 * (q95 - lo))
    pad = 0.05 * (hi - lo) if hi > lo else 0.5
    return lo - (pad if lo < 0 else 0.0), hi + pad


def command_line(view: View, points: int = POINTS) -> str:
    """The ``overparam curve`` command that reproduces the view."""
    parts = ["overparam", "curve", view.model, f"--{view.x}", f"{view.x_start}:{view.x_stop}:{points}"]
    if view.series != "(none)":
        parts += [f"--{view.series}", view.series_values.replace(" ", "")]
    defaults = {k: str(s.default) for k, s in registry.model_entry(view.model).model.params().items()}
    for k, text in view.values.items():
        if k not in (view.x, view.series) and text.strip() != defaults[k]:
            parts += [f"--{k}", text.strip()]
    return " ".join(parts)


def curve_csv(view: View, lines: list[dict[str, Any]]) -> str:
    """Tidy CSV of the current curves: one row per point (x, series, metric, value)."""
    buf = io.StringIO()
    buf.write(f"# {command_line(view)}\n{view.x},series,metric,value\n")
    for line in lines:
        series = "" if line["series"] is None else _label(line["series"])
        for xv, yv in zip(line["x"], line["y"]):
            buf.write(f"{xv:.10g},{series},{line['metric']},{yv:.10g}\n")
    return buf.getvalue()


def simulation_points(view: View, n: int, reps: int, seed: int, store: Any,
                      cancelled: Callable[[], bool] = lambda: False,
                      progress: Callable[[int, int], None] = lambda i, k: None) -> list[dict[str, Any]]:
    """A small simulated overlay of a valid view: SIM_POINTS x values per series value, through the
    runner and the results store (stored replicates are reused). Stops between points when
    ``cancelled()``; ``progress(done, total)`` after each point."""
    from .runner import RunOptions, run

    entry = registry.model_entry(view.model)
    if entry.replicate is None:
        raise ParameterError("model", view.model, "a model with a simulator")
    specs = entry.model.params()
    xs = np.linspace(float(view.x_start), float(view.x_stop), SIM_POINTS + 2)[1:-1]
    if getattr(specs[view.x], "integer", False):
        xs = np.unique(np.round(xs))
    base = _scalar_values(view, specs)
    todo = [(s, float(xv)) for s in series_list(view) for xv in xs]
    options = RunOptions(seed=seed, store=store)
    out: list[dict[str, Any]] = []
    for i, (s, xv) in enumerate(todo):
        if cancelled():
            break
        kw = dict(base, **{view.x: xv})
        if s is not None:
            kw[view.series] = s
        rec = run(entry, entry.model(**kw), n, reps, options)[0]
        for metric in view.metrics:
            if metric in rec:
                out.append({"label": _line_label(view, metric, s), "x": xv, "y": float(rec[metric]),
                            "se": float(rec.get(metric + "_se", np.nan))})
        progress(i + 1, len(todo))
    return out


def figure_bytes(view: View, lines: list[dict[str, Any]], sims: list[dict[str, Any]], fmt: str) -> bytes:
    """The current view drawn with matplotlib in the figure style of ``overparam figure``."""
    from matplotlib.figure import Figure

    from . import figures

    style = getattr(figures, "STYLE", {})
    import matplotlib

    with matplotlib.rc_context(style):
        fig = Figure(figsize=(3.4, 2.6), layout="constrained")
        ax = fig.add_subplot()
        colours = {}
        for k, line in enumerate(lines):
            y = np.where(np.isfinite(line["y"]), line["y"], np.nan)
            colours[line["label"]] = PALETTE[k % len(PALETTE)]
            ax.plot(line["x"], y, color=colours[line["label"]], label=line["label"])
        for s in sims:
            ax.errorbar([s["x"]], [s["y"]], yerr=[s["se"]], fmt="o", ms=3, color=colours.get(s["label"], "k"))
        ax.set_xlabel(view.x)
        ax.set_ylabel(", ".join(view.metrics))
        ax.legend(fontsize=6, frameon=False)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=300)
    return buf.getvalue()


# ---------------------------------------------------------------------------------- Bokeh page
def make_document(doc, model: str | None = None, store: Any = None) -> None:  # pragma: no cover - browser test
    """Build the page into a Bokeh ``doc`` (called once per browser session); ``?model=NAME`` in the
    address chooses the model shown first."""
    request = getattr(doc.session_context, "request", None)
    asked = (request.arguments.get("model") or [b""])[0].decode() if request is not None else ""
    names = registry.models()
    _Page(doc, asked if asked in names else (model or next(iter(names))), store)


class _Page:  # pragma: no cover - exercised by the browser test
    def __init__(self, doc, model: str, store: Any):
        from bokeh.models import (Button, ColumnDataSource, CustomJS, Div, MultiChoice, Range1d, Select, Slider,
                                  TextInput, Whisker)
        from bokeh.layouts import column, row
        from bokeh.plotting import figure

        self.doc, self.store = doc, store
        self.bk = dict(Button=Button, Div=Div, MultiChoice=MultiChoice, Select=Select, Slider=Slider,
                       TextInput=TextInput, column=column, row=row)
        self.theory = ColumnDataSource(dict(xs=[], ys=[], label=[], colour=[]), name="theory")
        self.sim = ColumnDataSource(dict(x=[], y=[], lower=[], upper=[], label=[], colour=[]), name="simulation")
        self.plot = figure(width=720, height=460, name="plot", sizing_mode="stretch_width", y_range=Range1d(0, 1))
        self.plot.multi_line("xs", "ys", source=self.theory, line_color="colour", line_width=2, legend_field="label")
        self.plot.scatter("x", "y", source=self.sim, color="colour", size=7)
        self.plot.add_layout(Whisker(source=self.sim, base="x", upper="upper", lower="lower"))
        self.plot.legend.location = "top_right"
        self.model_select = Select(title="model", value=model, options=list(registry.models()), name="model")
        self.model_select.on_change("value", lambda a, o, n: self._load(n))
        self.status = Div(text="", name="status")
        self.command = Div(text="", name="command")
        self.csv = ColumnDataSource(dict(text=[""]), name="csv")
        self.download = Button(label="download CSV", name="download_csv")
        self.download.js_on_click(CustomJS(args=dict(src=self.csv), code="""
            const blob = new Blob([src.data.text[0]], {type: 'text/csv'});
            const a = document.createElement('a'); a.href = URL.createObjectURL(blob);
            a.download = 'overparam-curve.csv'; a.click();"""))
        self.figure_button = Button(label="figure (PNG + PDF)", name="figure")
        self.figure_button.on_click(self._figure)
        self.figure_links = Div(text="", name="figure_links")
        self.sim_button = Button(label="simulate", button_type="primary", name="simulate")
        self.sim_button.on_click(self._simulate)
        self.cancel_button = Button(label="cancel", name="cancel", disabled=True)
        self.cancel_button.on_click(lambda: self._cancel.set())
        self.sim_n = TextInput(title="n (simulation size)", value="200", name="sim_n", width=140)
        self.sim_reps = TextInput(title="replicates", value="10", name="sim_reps", width=140)
        self._cancel = threading.Event()
        self._sims: list[dict[str, Any]] = []
        self._lines: list[dict[str, Any]] = []
        self.controls = column()
        right = column(self.plot, self.status, self.command,
                       row(self.sim_n, self.sim_reps), row(self.sim_button, self.cancel_button,
                                                           self.download, self.figure_button),
                       self.figure_links, sizing_mode="stretch_width")
        doc.add_root(row(column(self.model_select, self.controls, width=330), right, sizing_mode="stretch_width"))
        doc.title = "overparam explorer"
        self._load(model)

    # -- controls generated from the model declaration
    def _load(self, model: str) -> None:
        bk = self.bk
        self.view = View.default(model)
        specs = registry.model_entry(model).model.params()
        self.inputs, self.sliders, self.errors = {}, {}, {}
        widgets = []
        numeric = [k for k, s in specs.items() if not s.categorical]
        self.x_select = bk["Select"](title="x axis", value=self.view.x, options=numeric, name="x")
        self.x_start = bk["TextInput"](title="x from", value=self.view.x_start, name="x_start", width=150)
        self.x_stop = bk["TextInput"](title="x to", value=self.view.x_stop, name="x_stop", width=150)
        self.series = bk["Select"](title="series", value="(none)", options=["(none)", *specs], name="series")
        self.series_values = bk["TextInput"](title="series values (comma list)", value="", name="series_values")
        self.metrics = bk["MultiChoice"](title="metrics", value=list(self.view.metrics),
                                         options=list(registry.model_entry(model).model.METRICS), name="metrics")
        for w in (self.x_select, self.series, self.metrics):
            w.on_change("value", lambda a, o, n: self._changed())
        for w in (self.x_start, self.x_stop, self.series_values):
            w.on_change("value", lambda a, o, n: self._changed())
        for key in ("x_start", "x_stop", "series_values", "metrics"):
            self.errors[key] = bk["Div"](text="", name=f"error_{key}", styles={"color": "#b00020"})
        widgets += [self.x_select, bk["row"](self.x_start, self.x_stop), self.errors["x_start"],
                    self.errors["x_stop"], self.series, self.series_values, self.errors["series_values"],
                    self.metrics, self.errors["metrics"]]
        for name, spec in specs.items():
            box = bk["TextInput"](title=f"{name}: {spec.valid_text() if not spec.categorical else spec.doc}",
                                  value=self.view.values[name], name=f"param_{name}")
            box.on_change("value", lambda a, o, n, name=name: self._typed(name, n))
            self.inputs[name] = box
            widgets.append(box)
            if not spec.categorical:
                lo, hi = slider_range(spec)
                value = min(max(float(spec.default), lo), hi)
                step = 1.0 if getattr(spec, "integer", False) else (hi - lo) / 200
                slider = bk["Slider"](start=lo, end=hi, value=value, step=step, title=None, name=f"slider_{name}",
                                      show_value=False)
                slider.on_change("value_throttled", lambda a, o, n, name=name: self._slid(name, n))
                self.sliders[name] = slider
                widgets.append(slider)
            self.errors[name] = bk["Div"](text="", name=f"error_{name}", styles={"color": "#b00020"})
            widgets.append(self.errors[name])
        self.controls.children = widgets
        self._changed()

    def _slid(self, name: str, value: float) -> None:
        spec = registry.model_entry(self.view.model).model.params()[name]
        text = f"{int(round(value))}" if getattr(spec, "integer", False) else f"{value:.6g}"
        self.inputs[name].value = text  # triggers _typed

    def _typed(self, name: str, text: str) -> None:
        slider = self.sliders.get(name)
        try:
            v = float(text)
            if slider is not None and slider.start <= v <= slider.end and slider.value != v:
                slider.value = v
        except ValueError:
            pass
        self._changed()

    def _read(self) -> View:
        return View(self.view.model, {k: b.value for k, b in self.inputs.items()}, self.x_select.value,
                    self.x_start.value, self.x_stop.value, self.series.value, self.series_values.value,
                    list(self.metrics.value))

    def _changed(self) -> None:
        view = self._read()
        errors = validate(view)
        for key, div in self.errors.items():
            div.text = html.escape(errors.get(key, ""))
        for name, box in self.inputs.items():
            box.disabled = name in (view.x, view.series)
            if name in self.sliders:
                self.sliders[name].disabled = box.disabled
        self.view = view
        if errors:
            self.status.text = "fix the highlighted value to redraw"
            return
        try:
            lines = curves(view)
        except (OverparamError, ValueError) as exc:
            self.status.text = html.escape(str(exc).splitlines()[0])
            return
        self._lines = lines
        colours = [PALETTE[k % len(PALETTE)] for k in range(len(lines))]
        self.theory.data = dict(xs=[line["x"].tolist() for line in lines],
                                ys=[np.where(np.isfinite(line["y"]), line["y"], np.nan).tolist() for line in lines],
                                label=[line["label"] for line in lines], colour=colours)
        self._sims = []
        self.sim.data = dict(x=[], y=[], lower=[], upper=[], label=[], colour=[])
        self.plot.y_range.start, self.plot.y_range.end = y_limits(lines)
        self.plot.xaxis.axis_label = view.x
        self.plot.yaxis.axis_label = ", ".join(view.metrics)
        self.status.text = ""
        self.command.text = f"<code>{html.escape(command_line(view))}</code>"
        self.csv.data = dict(text=[curve_csv(view, lines)])

    # -- simulation overlay in a background thread
    def _simulate(self) -> None:
        view = self._read()
        if validate(view):
            return
        try:
            n, reps = int(self.sim_n.value), int(self.sim_reps.value)
            if n < 2 or reps < 2:
                raise ValueError
        except ValueError:
            self.status.text = "simulation: n and replicates must be integers >= 2"
            return
        self._cancel.clear()
        self.sim_button.disabled, self.cancel_button.disabled = True, False
        colours = {line["label"]: PALETTE[k % len(PALETTE)] for k, line in enumerate(self._lines)}
        doc = self.doc

        def progress(done: int, total: int) -> None:
            doc.add_next_tick_callback(lambda: setattr(self.status, "text", f"simulating: {done} of {total} points"))

        def work() -> None:
            try:
                sims = simulation_points(view, n, reps, 0, self.store, self._cancel.is_set, progress)
                message = "simulation cancelled" if self._cancel.is_set() else f"simulation: n = {n}, {reps} replicates"
            except (OverparamError, ValueError, MemoryError) as exc:
                sims, message = [], "simulation: " + str(exc).splitlines()[0]

            def show() -> None:
                self._sims = sims
                self.sim.data = dict(x=[s["x"] for s in sims], y=[s["y"] for s in sims],
                                     lower=[s["y"] - s["se"] for s in sims], upper=[s["y"] + s["se"] for s in sims],
                                     label=[s["label"] for s in sims],
                                     colour=[colours.get(s["label"], "#000000") for s in sims])
                self.status.text = html.escape(message)
                self.sim_button.disabled, self.cancel_button.disabled = False, True

            doc.add_next_tick_callback(show)

        threading.Thread(target=work, daemon=True).start()

    def _figure(self) -> None:
        if not self._lines:
            return
        links = []
        for fmt in ("png", "pdf"):
            data = base64.b64encode(figure_bytes(self.view, self._lines, self._sims, fmt)).decode()
            mime = "image/png" if fmt == "png" else "application/pdf"
            links.append(f'<a download="overparam-{self.view.model}.{fmt}" href="data:{mime};base64,{data}">'
                         f"{fmt.upper()}</a>")
        self.figure_links.text = "figure: " + " ".join(links)


def serve(model: str | None = None, port: int = 0, open_browser: bool = False, store: Any = None,
          announce: Callable[[str], None] = print) -> None:  # pragma: no cover - browser test
    """Serve the explorer on 127.0.0.1 until interrupted; ``announce`` gets the page's address."""
    try:
        from bokeh.application import Application
        from bokeh.application.handlers.function import FunctionHandler
        from bokeh.server.server import Server
    except ImportError:
        raise ParameterError("explore", "(bokeh not installed)", 'the extra: pip install -e ".[explore]"') from None
    if model is not None:
        registry.model_entry(model)
    app = Application(FunctionHandler(lambda doc: make_document(doc, model, store)))
    server = Server({"/": app}, address="127.0.0.1", port=port, allow_websocket_origin=["127.0.0.1", "localhost"],
                    num_procs=1)
    server.start()
    url = f"http://127.0.0.1:{server.port}/"
    announce(url)
    if open_browser:
        server.io_loop.add_callback(lambda: __import__("webbrowser").open(url))
    server.io_loop.start()
