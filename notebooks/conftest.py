"""pytest --nbmake: the notebooks' simulations go to a throw-away results store, never the user's default one."""
import os
import tempfile

os.environ.setdefault("OVERPARAM_STORE", os.path.join(tempfile.mkdtemp(prefix="overparam-notebooks-"), "store.sqlite"))
