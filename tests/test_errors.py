"""The shared error types survive pickling (a worker process's error must reach the parent intact)."""
import pickle

import pytest

from overparam.errors import ConvergenceError, OverparamError, ParameterError, StoreError


@pytest.mark.parametrize("exc", [ConvergenceError("hard-margin SVM", 2.5e-7, 12),
                                 ParameterError("gamma", -1, "> 0", "a detail"),
                                 StoreError("not a store"), OverparamError("plain")])
def test_errors_round_trip_through_pickle(exc):
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc)
    assert str(back) == str(exc) and back.args == exc.args
    assert vars(back) == vars(exc)


def test_convergence_error_keeps_its_diagnostics():
    back = pickle.loads(pickle.dumps(ConvergenceError("LP", 1.13e-8, 40)))
    assert (back.what, back.residual, back.iterations) == ("LP", 1.13e-8, 40)
    assert "1.13e-08" in str(back) and "40 iterations" in str(back)


def test_subclasses_with_their_own_constructors_round_trip(tmp_path):
    from verify.runner import WorkerLost
    from verify.store import StorePathError

    for exc in (StorePathError(tmp_path, "a directory"), WorkerLost("worker processes died 3 times")):
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is type(exc) and str(back) == str(exc) and vars(back) == vars(exc)
