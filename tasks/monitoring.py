"""Log and checkpoint folders of training, and the lock on training a model.

Nothing here imports TensorFlow: a cached rerun loads these modules without
it. The Keras callbacks themselves live in tasks.callbacks.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect import get_run_logger


def log_dir_for(artifacts_dir: str, dataset: str, model_file: Path) -> Path:
    """Return the logs folder of a model file, named like the model."""
    return Path(artifacts_dir) / "logs" / dataset / model_file.stem


def backup_dir_for(artifacts_dir: str, dataset: str, model_file: Path) -> Path:
    """Return the epoch-checkpoint folder of a model file.

    Model files are named by a hash of their settings, data and seed, so a
    checkpoint is only ever resumed by the same training.
    """
    return Path(artifacts_dir) / "checkpoints" / dataset / model_file.stem


@contextmanager
def exclusive_training(backup_dir: str | Path | None) -> Iterator[None]:
    """Hold an exclusive lock on a model's checkpoint folder while it trains.

    Two runs that train the same model (same settings, data and seed) would
    otherwise write the same epoch checkpoint at once, so the second run waits
    for the first. Linux releases an flock when its process exits, also on
    SIGKILL, so a killed run does not block a later one.
    """
    if backup_dir is None:
        yield
        return
    backup_dir = Path(backup_dir)
    backup_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = backup_dir.with_name(backup_dir.name + ".lock")
    with open(lock_path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            get_run_logger().info(
                "waiting for another run that trains the same model (%s)",
                backup_dir.name,
            )
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
