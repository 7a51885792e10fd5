"""One lock around the imports that tasks make inside their functions.

The task modules import TensorFlow, the Keras models and matplotlib only when
a task runs, so that a fully cached run never loads them. Two task threads
that import TensorFlow at the same moment deadlock in its circular imports,
and Python raises _DeadlockError (seen with tensorflow 2.21 on the 2-thread
task runner). So one thread imports while the others wait.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_IMPORT_LOCK = threading.RLock()


def import_tensorflow() -> None:
    """Import TensorFlow and Keras, or wait while another thread does."""
    with _IMPORT_LOCK:
        import keras  # noqa: F401  (imports TensorFlow)


@contextmanager
def heavy_imports() -> Iterator[None]:
    """Hold the import lock, with TensorFlow and Keras already imported."""
    with _IMPORT_LOCK:
        import_tensorflow()
        yield
