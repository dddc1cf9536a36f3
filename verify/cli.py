"""The ``overparam`` command line: a thin shell over the Python API.

    overparam list
    overparam curve MODEL [--PARAM VALUES]... [--format table|csv|json] [--out FILE]
    overparam simulate MODEL [--PARAM VALUES]... --n N --reps R [--seed S] [--jobs J] [--format ...]
                      [--out FILE] [--store PATH] [--no-store] [--scheduler ADDRESS] [--extrapolate]
    overparam store list|show|export|clear [MODEL]... [--store PATH] [--format ...] [--out FILE]
    overparam check [MODEL]... [--full] [--format table|csv|json] [--out FILE] [--store PATH] [--jobs J]
    overparam figure NAME|all --out DIR [--width single|double]

VALUES is a number, a comma list or an inclusive range start:stop:count; several gridded parameters give
their Cartesian product. Exit codes (:data:`EXIT_CODES`): 0 success; 1 a check failed; 2 bad input (one
line on stderr naming the parameter and its valid range); 3 a solver did not converge (residual and
iterations) or an internal error (one line; ``--debug`` shows the traceback); 130 interrupted; 141 the
reader of the output went away (``| head``).

Imports are kept lazy so that ``--help``, ``list`` and ``curve`` start fast: scipy.stats only in ``check``,
matplotlib only when a figure is drawn, numba and the simulators only when simulating, Dask only with
``--scheduler``.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import io
import itertools
import json
import math
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from overparam import __version__
from overparam.errors import ConvergenceError, OverparamError, ParameterError
from overparam.models import Model

from . import registry, runner


#: Default number of worker processes of ``check`` (one per core, at most this many).
CHECK_MAX_JOBS = 8


class UsageError(ValueError):
    """Malformed command line (exit 2)."""


EXIT_CODES = """exit codes:
  0    success
  1    a check failed (`overparam check`)
  2    bad input: one line naming the parameter and its valid range
  3    a solver did not converge (residual, iterations) or an internal error (--debug: traceback)
  130  interrupted (Ctrl-C or SIGTERM; finished replicates are kept in the store)
  141  the output pipe was closed (e.g. `| head`)"""

VALUES_HELP = """VALUES (every numeric --PARAM): one number `0.5`, a comma list `0,0.1,1` or an inclusive linear
range `start:stop:count` (`0.1:10:400`); several gridded parameters give their Cartesian product.
Categorical parameters take one value or a comma list."""

#: Largest accepted --seed (the results store keeps seeds as signed 64-bit integers).
MAX_SEED = 2**63 - 1


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of a usage dump."""

    verbs: dict[str, argparse.ArgumentParser]

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# --------------------------------------------------------------------------------------- grids
def parse_params(model_cls: type[Model], extra: Sequence[str]) -> dict[str, list]:
    """``--name VALUES`` pairs -> {name: [values]} for the model's parameters (defaults filled in)."""
    specs = model_cls.params()
    given: dict[str, str] = {}
    it = iter(extra)
    for token in it:
        if not token.startswith("--"):
            raise ParameterError("arguments", repr(token), f"--PARAM VALUES pairs; parameters of "
                                 f"{model_cls.NAME}: {', '.join(specs)}")
        name, eq, value = token[2:].partition("=")
        if name not in specs:
            raise ParameterError("parameter", f"--{name}", f"one of --{', --'.join(specs)} for {model_cls.NAME}")
        if not eq:
            value = next(it, None)
            if value is None:
                raise ParameterError(name, "(missing)", specs[name].valid_text())
        given[name] = value
    return {k: spec.parse(k, given.get(k, str(spec.default))) for k, spec in specs.items()}


def grid_models(model_cls: type[Model], values: dict[str, list]) -> list[Model]:
    """The Cartesian product as one specification per categorical combination, with the numeric
    parameters as equal-length 1-D arrays (first parameter varying slowest)."""
    specs = model_cls.params()
    cats = [k for k in values if specs[k].categorical]
    nums = [k for k in values if not specs[k].categorical]
    mesh = np.meshgrid(*[np.asarray(values[k]) for k in nums], indexing="ij")
    arrays = {k: m.ravel() for k, m in zip(nums, mesh)}
    out = []
    for combo in itertools.product(*[values[k] for k in cats]):
        kw = dict(arrays, **dict(zip(cats, combo)))
        if all(len(a) == 1 for a in arrays.values()):
            kw = {k: (v[0] if k in arrays else v) for k, v in kw.items()}
        out.append(model_cls(**kw))
    return out


def curve_records(model: Model, theory) -> list[dict]:
    """Evaluate the theory on one specification; one record per grid point."""
    metrics = theory(model)
    size = int(np.prod(model.shape()))
    recs = []
    for i in range(size):
        rec = {k: _pick(v, i) for k, v in model.display().items()}
        rec.update({m: _pick(np.broadcast_to(np.asarray(v), (size,)), i) for m, v in metrics.items()})
        recs.append(rec)
    return recs


def _pick(value: Any, i: int) -> Any:
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[i] if value.ndim else value.item()
    return value.item() if isinstance(value, np.generic) else value


# -------------------------------------------------------------------------------------- output
def render(records: list[dict], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(records, indent=1)
    keys: list[str] = []
    for r in records:
        keys += [k for k in r if k not in keys]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return buf.getvalue().rstrip("\n")
    cells = [[_cell(r.get(k, "")) for k in keys] for r in records]
    widths = [max(len(x) for x in col) for col in zip(keys, *cells)]
    return "\n".join("  ".join(x.rjust(w) for x, w in zip(row, widths)) for row in [keys, *cells])


def _cell(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def emit(text: str, out: str | None) -> None:
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")
    else:
        print(text)


# ------------------------------------------------------------------------------------- options
def _run_options(args: argparse.Namespace) -> runner.RunOptions:
    if not 0 <= args.seed <= MAX_SEED:
        raise ParameterError("seed", args.seed, f"an integer in [0, {MAX_SEED}]")
    if getattr(args, "jobs", 1) < 1:
        raise ParameterError("jobs", args.jobs, "an integer >= 1")
    store = None
    if not args.no_store:  # `check` judges fresh simulations: a throw-away store unless --store is given
        from . import store as store_mod
        store = args.store or (None if args.command == "check" else store_mod.default_path())
    return runner.RunOptions(seed=args.seed, jobs=args.jobs, store=store, scheduler=args.scheduler,
                             progress=sys.stderr.isatty())


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--jobs", type=int, default=1, help="local worker processes (default 1)")
    p.add_argument("--store", default=None, help="SQLite results store (default: see README)")
    p.add_argument("--no-store", action="store_true", help="do not read or write the results store")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://HOST:PORT")


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--out", default=None, help="write to FILE instead of standard output")


def _sizes(text: str, name: str) -> list[int]:
    try:
        vals = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        vals = []
    if not vals or min(vals) < 1:
        raise ParameterError(name, text, "a positive integer or a comma list of them")
    return vals


# ------------------------------------------------------------------------------------- commands
def cmd_list(args: argparse.Namespace) -> int:
    lines = []
    for fam in registry.families().values():
        for e in fam.models:
            lines += model_help(e, fam.name)
    lines.append("figures:")
    lines += [f"  {f.name:<22} {f.doc}" for f in registry.figures().values()]
    print("\n".join(lines))
    return 0


def model_help(entry: registry.ModelEntry, family: str = "") -> list[str]:
    """Lines describing one model: simulation size, parameters (range, default, meaning) and metrics."""
    m = entry.model
    where = f"family {family}; " if family else ""
    sim = f"simulate {m.SIZE_DOC}" if entry.replicate is not None else "theory only: no simulator"
    lines = [f"{m.NAME}  ({where}{sim})"]
    for k, spec in m.params().items():
        doc = spec.doc if spec.categorical else f"{spec.valid_text()}  {spec.doc}"
        lines.append(f"  --{k:<14} default {spec.default!s:<16} {doc}")
    lines.append("  metrics:")
    lines += [f"    {k:<24} {m.METRIC_DOCS.get(k, '')}".rstrip() for k in m.METRICS]
    return lines


def _model_usage(verb: str, model: str | None) -> str:
    """``overparam curve|simulate [MODEL] --help``: the models (or one model's parameters) and VALUES."""
    sub = build_parser().verbs[verb]
    if model is None:
        listing = "\n".join(f"  {name:<20} --{', --'.join(e.model.params())}"
                            for name, e in registry.models().items() if verb == "curve" or e.replicate)
        return (f"{sub.format_help()}\nmodels and their parameters (`overparam {verb} MODEL --help` for "
                f"ranges, defaults and metric definitions):\n{listing}")
    entry = registry.model_entry(model)
    return "\n".join([*model_help(entry), "", sub.format_help()])


def cmd_curve(args: argparse.Namespace, extra: list[str]) -> int:
    entry = registry.model_entry(args.model)
    records = []
    for spec in grid_models(entry.model, parse_params(entry.model, extra)):
        records += curve_records(spec, entry.theory)
    emit(render(records, args.format), args.out)
    return 0


def _size_option(entry: registry.ModelEntry, args: argparse.Namespace) -> str | None:
    """The simulation size text of --n or --d, whichever the model takes (the other is refused)."""
    flag = entry.model.SIZE_FLAG
    other = "d" if flag == "n" else "n"
    if getattr(args, other) is not None:
        raise ParameterError(other, getattr(args, other), f"omitted: {entry.name} takes --{flag} "
                             f"({entry.model.SIZE_DOC})")
    return getattr(args, flag)


def _listed(spec: Model) -> bool:
    """Does the specification carry a listed spectrum (power-law, file) that fixes the dimension p?"""
    return getattr(getattr(spec, "spectrum", None), "eigenvalues", None) is not None


def _check_listed_size(point: Model, n: int | None) -> None:
    """A listed spectrum fixes p, so n = round(p/gamma): --n may be omitted, and a different --n is
    refused rather than silently ignored."""
    if n is not None and _listed(point) and point.sizes(n)["n"] != n:
        raise ParameterError("n", n, f"omitted or {point.sizes(n)['n']}: spectrum {point.spectrum.label} fixes "
                             f"p = {point.sizes(n)['p']}, and n = round(p/gamma) at gamma = {point.gamma:g}")


def _available_memory() -> float:
    """Bytes of memory available to new allocations (MemAvailable on Linux, else physical memory)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return math.inf


def check_memory(point: Model, sizes: dict[str, int], jobs: int, flag: str, n: int | None) -> None:
    """Refuse (exit 2) a simulation whose replicates would not fit in memory, before it starts."""
    need, have = point.memory(sizes) * jobs, _available_memory()
    if need > have:
        dims = ", ".join(f"{k} = {v}" for k, v in sizes.items())
        name, value = (flag, n) if n is not None else ("spectrum", point.spectrum.label)  # listed spectrum
        raise ParameterError(name, value, f"small enough to fit in memory: {point.NAME} at {dims} needs about "
                             f"{_bytes(need)} with {jobs} job(s), {_bytes(have)} available")


def _bytes(x: float) -> str:
    unit = "B"
    for unit in ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB"):
        if x < 1000:
            break
        x /= 1000
    return f"{x:.3g} {unit}"


def cmd_simulate(args: argparse.Namespace, extra: list[str]) -> int:
    entry = registry.model_entry(args.model)
    if entry.replicate is None:
        with_sim = ", ".join(name for name, e in registry.models().items() if e.replicate is not None)
        raise ParameterError("MODEL", entry.name, f"a model with a finite-size simulator ({with_sim}); "
                             f"{entry.name} is a limit only: use `overparam curve {entry.name}`")
    flag = entry.model.SIZE_FLAG
    size_text = _size_option(entry, args)
    if args.reps is None:
        raise ParameterError("reps", "(missing)", "an integer >= 1")
    options = _run_options(args)
    values = parse_params(entry.model, extra)
    specs = grid_models(entry.model, values)
    if size_text is None and not all(_listed(spec) for spec in specs):
        raise ParameterError(flag, "(missing)", f"given: {entry.model.SIZE_DOC}")
    ns = [None] if size_text is None else _sizes(size_text, flag)
    for n in ns:
        for spec in specs:
            for group in runner.groups(entry, spec, n):
                _check_listed_size(group.model, n)
                check_memory(group.model, group.sizes, options.jobs, flag, n)
    if args.extrapolate:
        ns_given = [n for n in ns if n is not None]
        emit(render(extrapolate_records(entry, values, ns_given, args.reps, options), args.format), args.out)
        return 0
    records = [rec for n in ns for spec in specs for rec in runner.run(entry, spec, n, args.reps, options)]
    emit(render(records, args.format), args.out)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    fams = registry.families()
    chosen = [registry.family_of(name) for name in args.models] if args.models else list(fams.values())
    chosen = list({f.name: f for f in chosen}.values())
    if args.jobs is None:  # check uses every core unless told otherwise
        args.jobs = min(os.cpu_count() or 1, CHECK_MAX_JOBS)
    # a fresh temporary store unless --store is given (never the default persistent store)
    options = dataclasses.replace(_run_options(args), store=args.store)
    from . import check as check_mod

    rows, ok, seconds = check_mod.timed_check(chosen, args.full, options)
    emit(check_mod.FORMATS[args.format](rows), args.out)
    print(check_mod.summary(rows, seconds), file=sys.stderr if args.format != "table" or args.out else sys.stdout)
    return 0 if ok else 1


def cmd_figure(args: argparse.Namespace) -> int:
    from .api import draw_figures

    for png in draw_figures(args.name, args.out, args.width, False, _run_options(args)):
        for suffix in (".png", ".pdf", ".csv", ".txt"):
            print(png.with_suffix(suffix))
    return 0


# ------------------------------------------------------------------- results store and extrapolation
def cmd_store(args: argparse.Namespace) -> int:
    """``overparam store list|show|export|clear [MODEL]...``: inspect the results store (one row per
    stored point with its replicate count, or per point means and standard errors), export every stored
    replicate to CSV/Parquet, or delete the points of some models (all without MODEL)."""
    from . import store as store_mod

    path = Path(args.store).expanduser() if args.store else store_mod.default_path()
    if not path.exists():
        if args.action == "export":
            raise store_mod.StorePathError(path, "there is no results store there")
        print(f"no results store at {path}")
        return 0
    with store_mod.Store(path) as st:
        if args.action == "export":
            if not args.out:
                raise ParameterError("out", "(missing)", "a .csv or .parquet file to export to")
            print(f"{st.export(args.out, args.models)} replicates written to {args.out}")
        elif args.action == "clear":
            print(f"deleted {st.clear(args.models)} stored replicates from {path}")
        else:
            points = st.points(args.models)
            if args.action == "list":
                records = [dict(id=p.id, **p.columns(), replicates=p.count) for p in points]
            else:
                records = [dict(id=p.id, **p.columns(), reps=p.count, **runner.stored_stats(st, p.id))
                           for p in points if p.count]
            emit(render(records, args.format) if records else f"no stored results in {path}", args.out)
    return 0


def extrapolate_records(entry: registry.ModelEntry, values: dict[str, list], ns: list[int], reps: int,
                        options: runner.RunOptions) -> list[dict]:
    """``simulate --extrapolate``: for every grid point and metric M, the weighted least-squares fit
    M(n) = a + b/n over the sizes ``ns`` (weights 1/se^2, :func:`stats.fit_inverse_n`). The record holds
    the parameters, ``sizes``, ``reps``, ``seed`` and for each metric the intercept ``M`` with its standard
    error ``M_se``, the slope ``M_slope`` and the limit ``M_theory`` of ``curve`` at the nominal ratios."""
    from . import stats

    if len(ns) < 2:
        raise ParameterError("n", ",".join(map(str, ns)), "two or more sizes (a comma list) with --extrapolate")
    if reps < 2:
        raise ParameterError("reps", reps, "an integer >= 2 with --extrapolate (the fit weighs each size by its "
                             "standard error)")
    out = []
    for spec in grid_models(entry.model, values):
        runs = [runner.run(entry, spec, n, reps, options) for n in ns]
        for i, limit in enumerate(curve_records(spec, entry.theory)):
            rec = {k: limit[k] for k in spec.params()}
            rec.update(sizes=",".join(map(str, ns)), reps=reps, seed=options.seed)
            for metric in (m for m in runs[0][i] if m + "_se" in runs[0][i]):
                mean = np.array([r[i][metric] for r in runs])
                se = np.array([r[i][metric + "_se"] for r in runs])
                ok = np.isfinite(mean) & np.isfinite(se)
                a, se_a, b = (stats.fit_inverse_n(np.array(ns)[ok], mean[ok], se[ok])[:3] if ok.sum() >= 2
                              else (math.nan, math.nan, math.nan))
                rec.update({metric: a, metric + "_se": se_a, metric + "_slope": b,
                            metric + "_theory": limit.get(metric, math.nan)})
            out.append(rec)
    return out


class _IntermixedParser(_Parser):
    """A subcommand parser whose positionals may come before and after its options
    (``store export --out r.csv ridge``)."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        if getattr(self, "_mixing", False):  # parse_known_intermixed_args calls back in here
            return super().parse_known_args(args, namespace)
        self._mixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._mixing = False


def _add_store_parser(sub: Any) -> None:
    p = sub.add_parser("store", allow_abbrev=False, help="list, show, export or clear stored replicates")
    p.__class__ = _IntermixedParser
    p.add_argument("action", choices=("list", "show", "export", "clear"),
                   help="list: points and replicate counts; show: means and standard errors; "
                        "export: every replicate to --out FILE.csv|.parquet; clear: delete")
    p.add_argument("models", nargs="*", help="only these models (default: all)")
    p.add_argument("--store", default=None, help="SQLite results store (default: see README)")
    _add_output(p)


def _add_model_verb(sub: Any, verb: str, summary: str, usage: str) -> argparse.ArgumentParser:
    """``curve``/``simulate``: MODEL plus --PARAM VALUES pairs; ``--help`` lists the models, and with MODEL
    that model's parameters and metric definitions (:func:`_model_usage`)."""
    p = sub.add_parser(verb, allow_abbrev=False, add_help=False, epilog=VALUES_HELP, help=summary,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       usage=f"overparam {verb} MODEL [--PARAM VALUES]... {usage}")
    p.add_argument("-h", "--help", action="store_true", help="models; with MODEL: its parameters and metrics")
    p.add_argument("model", nargs="?")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="overparam", description="Exact asymptotic risk curves of overparameterized "
                     "learning, checked against simulation.", epilog=f"{VALUES_HELP}\n\n{EXIT_CODES}",
                     formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"overparam {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    sub = parser.add_subparsers(dest="command", required=True)
    parser.verbs = sub.choices  # verb -> its parser (for `curve|simulate [MODEL] --help`)
    sub.add_parser("list", allow_abbrev=False, help="models, parameters (range, default), metrics and figures")
    p = _add_model_verb(sub, "curve", "asymptotic theory (n, p -> infinity) on a parameter grid",
                        "[--format table|csv|json] [--out FILE]")
    _add_output(p)
    p = _add_model_verb(sub, "simulate", "finite-size Monte Carlo: means and standard errors",
                        "--n N --reps R [options]")
    p.add_argument("--n", default=None, help="simulation size: samples n (the matrix size or input dimension "
                   "where the model says so); a comma list for several sizes")
    p.add_argument("--d", default=None, help="input dimension d (random-features, instead of --n)")
    p.add_argument("--reps", type=int, default=None, help="replicates per point")
    p.add_argument("--extrapolate", action="store_true",
                   help="with several --n: fit a + b/n per metric, report a +- se beside the theory")
    _add_output(p)
    _add_run_options(p)
    p = sub.add_parser("check", allow_abbrev=False, help="theory vs simulation verdict table; exit 1 on a failed check")
    p.add_argument("models", nargs="*", help="families or models (default: all)")
    p.add_argument("--full", action="store_true",
                   help="every scenario, the quick ones at more replicates: flags a 2 %% error in every primary metric")
    _add_output(p)
    _add_run_options(p)
    p.set_defaults(jobs=None)  # default: every core (up to CHECK_MAX_JOBS)
    _add_store_parser(sub)
    p = sub.add_parser("explore", allow_abbrev=False,
                       help="interactive explorer: a local web page with live theory curves (extra: .[explore])")
    p.add_argument("model", nargs="?", help="model shown first (default: the first registered)")
    p.add_argument("--port", type=int, default=5006, help="port on 127.0.0.1 (0: any free port; default 5006)")
    p.add_argument("--no-browser", action="store_true", help="only print the address")
    p.add_argument("--store", default=None, help="results store of the simulation overlays (default: see README)")
    p = sub.add_parser("cite", allow_abbrev=False, help="BibTeX of the papers a model implements")
    p.add_argument("model")
    p = sub.add_parser("figure", allow_abbrev=False,
                       help="write NAME.png, NAME.pdf, NAME.csv (tidy data) and NAME.txt (caption)")
    p.add_argument("name", help="a figure of `overparam list`, or `all`")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--width", choices=("single", "double"), default=None,
                   help="journal column width: single (3.4 in) or double (7 in); default: the figure's own")
    _add_run_options(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (module docstring, ``EXIT_CODES``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv  # accepted anywhere on the line
    try:
        return _dispatch([a for a in argv if a != "--debug"])
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ParameterError, UsageError) as exc:  # a bad --store path is a ParameterError (StorePathError)
        return _fail(exc, 2)
    except ConvergenceError as exc:
        return _fail(exc, 3)
    except KeyboardInterrupt:
        print("overparam: interrupted (finished replicates are kept in the store)", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - any other failure is internal: one line, exit 3
        if debug:
            traceback.print_exc()
        kind = "" if isinstance(exc, OverparamError) else f"internal error: {type(exc).__name__}: "
        return _fail(f"{kind}{exc}" + ("" if debug else " (--debug shows the traceback)"), 3)


def _fail(exc: object, code: int) -> int:
    print((f"overparam: error: {exc}".splitlines() or [""])[0], file=sys.stderr)
    return code


def cmd_explore(args: argparse.Namespace) -> int:
    """Serve the interactive explorer on 127.0.0.1 until interrupted (:mod:`overparam.verify.explore`)."""
    from . import explore
    from . import store as store_mod

    if not 0 <= args.port <= 65535:
        raise ParameterError("port", args.port, "an integer in [0, 65535]")
    explore.serve(args.model, args.port, not args.no_browser, args.store or store_mod.default_path(),
                  announce=lambda url: print(f"overparam explorer at {url} (Ctrl-C stops it)", flush=True))
    return 0


def _dispatch(argv: list[str]) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "help", False):
        print(_model_usage(args.command, args.model))
        return 0
    if args.command in ("curve", "simulate") and args.model is None:
        raise UsageError(f"MODEL is missing (see `overparam {args.command} --help`)")
    if extra and args.command not in ("curve", "simulate"):
        raise UsageError(f"unrecognized arguments: {' '.join(extra)} (see `overparam {args.command} --help`)")
    if args.command == "explore":
        return cmd_explore(args)
    if args.command == "cite":
        from . import cite
        print(cite.cite(args.model))
        return 0
    if args.command == "list":
        return cmd_list(args)
    if args.command == "store":
        return cmd_store(args)
    if args.command in ("curve", "simulate"):
        return (cmd_curve if args.command == "curve" else cmd_simulate)(args, extra)
    return cmd_check(args) if args.command == "check" else cmd_figure(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
