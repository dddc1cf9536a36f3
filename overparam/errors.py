"""Error types shared by every layer.

* :class:`ParameterError` (a ``ValueError``): an invalid parameter. The message names the parameter,
  the offending value and the valid range; the CLI prints it on one line and exits with code 2.
* :class:`ConvergenceError`: an iterative solver stopped without meeting its tolerance. It carries the
  final ``residual`` and the number of ``iterations`` so the failure can be diagnosed.
* :class:`StoreError`: a results store that cannot be used (not an overparam store, incompatible version).
"""
from __future__ import annotations


class OverparamError(Exception):
    """Base class of every overparam-specific error.

    Instances pickle (a solver error raised in a ``--jobs``/Dask worker reaches the parent intact) even
    when a subclass's ``__init__`` takes other arguments than the message: unpickling restores ``args``
    and the attributes without calling ``__init__`` again.
    """

    def __reduce__(self):
        return _restore, (type(self), self.args), self.__dict__


def _restore(cls: type, args: tuple) -> OverparamError:
    """An instance of ``cls`` with ``args`` set, ``__init__`` not called (pickle then restores ``__dict__``)."""
    exc = cls.__new__(cls)
    exc.args = args
    return exc


class ParameterError(OverparamError, ValueError):
    """An invalid parameter value: ``ParameterError("gamma", -1, "> 0")``.

    The message reads ``gamma = -1 is invalid: must be > 0``.
    """

    def __init__(self, name: str, value: object, valid: str, detail: str = ""):
        self.name, self.value, self.valid = name, value, valid
        msg = f"{name} = {value} is invalid: must be {valid}"
        super().__init__(msg + (f" ({detail})" if detail else ""))


class ConvergenceError(OverparamError, RuntimeError):
    """A solver failed to converge; ``residual`` and ``iterations`` say how far it got."""

    def __init__(self, what: str, residual: float, iterations: int):
        self.what, self.residual, self.iterations = what, float(residual), int(iterations)
        super().__init__(f"{what} did not converge: residual {self.residual:.3g} after {self.iterations} iterations")


class StoreError(OverparamError):
    """A results store that cannot be opened or trusted."""
