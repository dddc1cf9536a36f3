"""The ``overparam`` command line: a thin shell over the Python API (INTERFACE.md).

    overparam list
    overparam curve MODEL [--PARAM VALUES]... [--format table|csv|json] [--out FILE]
    overparam simulate MODEL [--PARAM VALUES]... --n N --reps R [--seed S] [--jobs J] [--format ...]
                      [--out FILE] [--store PATH] [--no-store] [--scheduler ADDRESS] [--extrapolate]
    overparam store list|show|export|clear [MODEL]... [--store PATH] [--format ...] [--out FILE]
    overparam check [MODEL]... [--full]
    overparam figure NAME --out DIR

VALUES is a number, a comma list or an inclusive range start:stop:count; several gridded parameters give
their Cartesian product. Exit codes: 0 success, 1 a check failed (or a solver failed), 2 bad input (one
line on stderr naming the parameter and its valid range).
"""
from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import math
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from overparam import __version__
from overparam.errors import ConvergenceError, OverparamError, ParameterError, StoreError
from overparam.models import Model

from . import check as check_mod
from . import registry, runner


class UsageError(ValueError):
    """Malformed command line (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of a usage dump."""

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
    if getattr(args, "jobs", 1) < 1:
        raise ParameterError("jobs", args.jobs, "an integer >= 1")
    store = None
    if not args.no_store:
        from . import store as store_mod
        store = args.store or store_mod.default_path()
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
            m = e.model
            lines.append(f"{m.NAME}  (family {fam.name}; simulate {m.SIZE_DOC})")
            for k, spec in m.params().items():
                doc = spec.doc if spec.categorical else f"{spec.valid_text()}  {spec.doc}"
                lines.append(f"  --{k:<14} default {spec.default!s:<16} {doc}")
            lines.append("  metrics: " + ", ".join(m.METRICS))
    lines.append("figures:")
    lines += [f"  {f.name:<22} {f.doc}" for f in registry.figures().values()]
    print("\n".join(lines))
    return 0


def cmd_curve(args: argparse.Namespace, extra: list[str]) -> int:
    entry = registry.model_entry(args.model)
    records = []
    for spec in grid_models(entry.model, parse_params(entry.model, extra)):
        records += curve_records(spec, entry.theory)
    emit(render(records, args.format), args.out)
    return 0


def cmd_simulate(args: argparse.Namespace, extra: list[str]) -> int:
    entry = registry.model_entry(args.model)
    size_text = args.n if args.n is not None else args.d
    if size_text is None:
        raise ParameterError("n", "(missing)", f"given: {entry.model.SIZE_DOC}")
    if args.reps is None:
        raise ParameterError("reps", "(missing)", "an integer >= 1")
    options = _run_options(args)
    values = parse_params(entry.model, extra)
    if args.extrapolate:
        ns = _sizes(size_text, "n" if args.n is not None else "d")
        emit(render(extrapolate_records(entry, values, ns, args.reps, options), args.format), args.out)
        return 0
    records = []
    for n in _sizes(size_text, "n" if args.n is not None else "d"):
        for spec in grid_models(entry.model, values):
            records += runner.run(entry, spec, n, args.reps, options)
    emit(render(records, args.format), args.out)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    fams = registry.families()
    chosen = [registry.family_of(name) for name in args.models] if args.models else list(fams.values())
    chosen = list({f.name: f for f in chosen}.values())
    rows, ok, seconds = check_mod.timed_check(chosen, args.full, _run_options(args))
    print(check_mod.format_rows(rows))
    print(check_mod.summary(rows, seconds))
    return 0 if ok else 1


def cmd_figure(args: argparse.Namespace) -> int:
    figs = registry.figures()
    if args.name not in figs:
        raise ParameterError("NAME", args.name, "one of " + ", ".join(figs))
    png = figs[args.name].draw(Path(args.out), _run_options(args))
    for suffix in (".png", ".pdf", ".csv"):
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
            raise StoreError(f"no results store at {path}")
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
    out = []
    for spec in grid_models(entry.model, values):
        runs = [runner.run(entry, spec, n, reps, options) for n in ns]
        for i, limit in enumerate(curve_records(spec, entry.theory)):
            rec = {k: limit[k] for k in spec.params()}
            rec.update(sizes=",".join(map(str, ns)), reps=reps, seed=options.seed)
            for metric in (m for m in runs[0][i] if m + "_se" in runs[0][i]):
                mean = np.array([r[i][metric] for r in runs])
                se = stats.effective_se([r[i][metric + "_se"] for r in runs], mean)
                ok = np.isfinite(mean)
                a, se_a, b = (stats.fit_inverse_n(np.array(ns)[ok], mean[ok], se[ok])[:3] if ok.sum() >= 2
                              else (math.nan, math.nan, math.nan))
                rec.update({metric: a, metric + "_se": se_a, metric + "_slope": b,
                            metric + "_theory": limit.get(metric, math.nan)})
            out.append(rec)
    return out


def _add_store_parser(sub: Any) -> None:
    p = sub.add_parser("store", allow_abbrev=False, help="list, show, export or clear stored replicates")
    p.add_argument("action", choices=("list", "show", "export", "clear"),
                   help="list: points and replicate counts; show: means and standard errors; "
                        "export: every replicate to --out FILE.csv|.parquet; clear: delete")
    p.add_argument("models", nargs="*", help="only these models (default: all)")
    p.add_argument("--store", default=None, help="SQLite results store (default: see README)")
    _add_output(p)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="overparam", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"overparam {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", allow_abbrev=False, help="models, parameters (range, default), metrics and figures")
    p = sub.add_parser("curve", allow_abbrev=False, help="asymptotic theory on a parameter grid")
    p.add_argument("model")
    _add_output(p)
    p = sub.add_parser("simulate", allow_abbrev=False, help="finite-size Monte Carlo: means and standard errors")
    p.add_argument("model")
    p.add_argument("--n", default=None, help="size (samples; matrix or input dimension where documented)")
    p.add_argument("--d", default=None, help="input dimension (random-features)")
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--extrapolate", action="store_true",
                   help="with several --n: fit a + b/n per metric, report a +- se beside the theory")
    _add_output(p)
    _add_run_options(p)
    p = sub.add_parser("check", allow_abbrev=False, help="theory vs simulation verdict table; exit 1 on a failed check")
    p.add_argument("models", nargs="*", help="families or models (default: all)")
    p.add_argument("--full", action="store_true", help="the larger scenario set")
    _add_run_options(p)
    _add_store_parser(sub)
    p = sub.add_parser("figure", allow_abbrev=False, help="write NAME.png, NAME.pdf, NAME.csv")
    p.add_argument("name")
    p.add_argument("--out", required=True)
    _add_run_options(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and args.command not in ("curve", "simulate"):
            raise UsageError(f"unrecognized arguments: {' '.join(extra)} (see `overparam {args.command} --help`)")
        if args.command == "list":
            return cmd_list(args)
        if args.command == "store":
            return cmd_store(args)
        if args.command in ("curve", "simulate"):
            return (cmd_curve if args.command == "curve" else cmd_simulate)(args, extra)
        return cmd_check(args) if args.command == "check" else cmd_figure(args)
    except (ValueError, StoreError) as exc:
        print(f"overparam: error: {exc}".splitlines()[0], file=sys.stderr)
        return 2
    except (ConvergenceError, OverparamError) as exc:
        print(f"overparam: error: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("overparam: interrupted (finished replicates are kept in the store)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
