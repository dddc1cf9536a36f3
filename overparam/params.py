"""Parameter declarations shared by every model specification.

A model field is declared with :func:`number` (a real or integer with a valid range) or :func:`choice`
(a categorical value parsed from its command-line spelling). Validation raises
:class:`~overparam.errors.ParameterError` naming the parameter, the offending value and the valid range.
Numeric parameters accept a scalar or an array (a grid); arrays are validated element-wise.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .errors import ParameterError


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class Number:
    """A real (or integer) parameter with an optional range ``lo <(=) value <(=) hi``."""

    default: float
    doc: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False
    inf_ok: bool = False  # +inf is a valid value (e.g. ntk-init width = inf)
    categorical = False

    def valid_text(self) -> str:
        kind = "an integer " if self.integer else ""
        if self.lo is not None and self.hi is not None:
            return (f"{kind}in {'(' if self.lo_open else '['}{_fmt(self.lo)}, "
                    f"{_fmt(self.hi)}{')' if self.hi_open else ']'}")
        if self.lo is not None:
            return f"{kind}{'>' if self.lo_open else '>='} {_fmt(self.lo)}" + (" or inf" if self.inf_ok else "")
        if self.hi is not None:
            return f"{kind}{'<' if self.hi_open else '<='} {_fmt(self.hi)}"
        return (kind or "a finite number").strip()

    def validate(self, name: str, value: Any) -> float | int | np.ndarray:
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ParameterError(name, value, self.valid_text()) from None
        bad = (np.isnan(arr) | (arr == -np.inf)) if self.inf_ok else ~np.isfinite(arr)
        if self.lo is not None:
            bad |= (arr <= self.lo) if self.lo_open else (arr < self.lo)
        if self.hi is not None:
            bad |= (arr >= self.hi) if self.hi_open else (arr > self.hi)
        if self.integer:
            bad |= arr != np.round(arr)
        if bad.any():
            raise ParameterError(name, _fmt(float(arr[bad].flat[0])), self.valid_text())
        if self.integer:
            arr = arr.astype(np.int64)
        return arr.item() if arr.ndim == 0 else arr

    def parse(self, name: str, text: str) -> list[float]:
        """Command-line VALUES: ``1``, ``0,0.1,1`` or an inclusive range ``start:stop:count``."""
        text = text.strip()
        try:
            if text.count(":") == 2:
                a, b, c = text.split(":")
                count = int(c)
                if count < 1:
                    raise ValueError
                vals = np.linspace(float(a), float(b), count).tolist()
            else:
                vals = [float(t) for t in text.split(",") if t.strip()]
        except ValueError:
            raise ParameterError(name, repr(text), f"{self.valid_text()}: a number, a list a,b,c "
                                 "or a range start:stop:count") from None
        if not vals:
            raise ParameterError(name, repr(text), self.valid_text())
        out = self.validate(name, np.array(vals))
        return out.tolist()


@dataclass(frozen=True)
class Choice:
    """A categorical parameter: ``parse`` turns one spelling (or a Python object) into a value
    with a ``label`` attribute (or a plain string); ``split`` cuts a command-line list into spellings."""

    default: str
    doc: str
    parse_one: Callable[[Any], Any]
    split: Callable[[str], list[str]] = staticmethod(lambda s: [t for t in s.split(",") if t.strip()])
    categorical = True

    def valid_text(self) -> str:
        return self.doc

    def validate(self, name: str, value: Any) -> Any:
        return self.parse_one(value)

    def parse(self, name: str, text: str) -> list[Any]:
        return [self.parse_one(t.strip()) for t in self.split(text)]


def number(default: float, doc: str, **range_) -> Any:
    """Declare a numeric dataclass field (see :class:`Number`)."""
    return field(default=default, metadata={"spec": Number(default, doc, **range_)})


def choice(default: str, doc: str, parse_one: Callable[[Any], Any],
           split: Callable[[str], list[str]] | None = None) -> Any:
    """Declare a categorical dataclass field (see :class:`Choice`)."""
    spec = Choice(default, doc, parse_one) if split is None else Choice(default, doc, parse_one, split)
    return field(default=default, metadata={"spec": spec})


def label(value: Any) -> Any:
    """Display form of a parameter value: categorical objects by their label, numbers as numbers."""
    return getattr(value, "label", value)
