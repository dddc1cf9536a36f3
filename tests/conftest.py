"""Test-session settings: results go to a throw-away store, never to the user's default one."""
import os
import tempfile

os.environ.setdefault("OVERPARAM_STORE", os.path.join(tempfile.mkdtemp(prefix="overparam-tests-"), "store.sqlite"))
