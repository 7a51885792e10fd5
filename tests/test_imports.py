"""Lazy TensorFlow imports from several task threads at once."""

from __future__ import annotations

import subprocess
import sys

# Four threads released together import modules that all pull in TensorFlow.
# Without the lock, tensorflow 2.21 raised _DeadlockError in every such run.
CONCURRENT_IMPORTS = """
import importlib, threading
from tasks.imports import heavy_imports

modules = ["genlab.models.vae", "genlab.inputs", "genlab.generators", "tasks.callbacks"]
barrier = threading.Barrier(len(modules))
errors = []

def worker(name):
    barrier.wait()
    try:
        with heavy_imports():
            importlib.import_module(name)
    except Exception as error:
        errors.append(f"{name}: {type(error).__name__}: {error}")

threads = [threading.Thread(target=worker, args=(name,)) for name in modules]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(errors)
"""


def test_threads_import_tensorflow_together():
    output = subprocess.run(
        [sys.executable, "-c", CONCURRENT_IMPORTS],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert output.returncode == 0, output.stderr[-2000:]
    assert output.stdout.strip().splitlines()[-1] == "[]"
