"""Training callbacks that make progress visible in Prefect and on disk."""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keras
from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.context import TaskRunContext

from genlab.training import StopOnNonFiniteLoss


class PrefectProgress(keras.callbacks.Callback):
    """Log every epoch's metrics to the task run's logger and a progress artifact.

    The task run's log and its progress artifact are what the Prefect dashboard
    shows while a task runs, so long training is visible epoch by epoch.
    """

    def __init__(self, name: str, epochs: int) -> None:
        super().__init__()
        self.name = name
        self.epochs = epochs
        self.logger = get_run_logger()
        self.artifact_id = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        # fit() may be called more than once (the fine-tuned classifier's two
        # phases), so the artifact is created only by the first call.
        # Artifacts belong to a task run; outside one (task.fn() in tests)
        # there is nothing to attach the progress to.
        if self.artifact_id is None and TaskRunContext.get() is not None:
            self.artifact_id = create_progress_artifact(
                progress=0.0,
                description=f"{self.name}: epochs done out of {self.epochs}",
            )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        # Keras names training metrics without a prefix; saying "train_" keeps
        # a reader from taking a training accuracy for a test accuracy.
        metrics = ", ".join(
            f"{key if key.startswith('val_') else 'train_' + key}={float(value):.4g}"
            for key, value in sorted((logs or {}).items())
        )
        self.logger.info(
            "%s epoch %d/%d: %s", self.name, epoch + 1, self.epochs, metrics
        )
        if self.artifact_id is not None:
            update_progress_artifact(
                self.artifact_id, progress=100.0 * (epoch + 1) / self.epochs
            )


def training_callbacks(
    name: str,
    epochs: int,
    log_dir: str | Path | None = None,
    backup_dir: str | Path | None = None,
) -> list[keras.callbacks.Callback]:
    """Return the callbacks every training task uses.

    They stop at a non-finite loss, report progress to Prefect and, with
    log_dir, write a CSV history and TensorBoard logs there. With backup_dir,
    Keras' BackupAndRestore saves the weights at every epoch end, and a rerun
    after a crash resumes from the last finished epoch.
    """
    callbacks: list[keras.callbacks.Callback] = [StopOnNonFiniteLoss(name)]
    if backup_dir is not None:
        # Before the progress callback, so an epoch is saved before it is
        # reported. NOTE: Keras 3.15 restores the weights and the epoch but
        # not the optimizer's moments, which restart from zero on resume.
        callbacks.append(keras.callbacks.BackupAndRestore(str(backup_dir)))
    callbacks.append(PrefectProgress(name, epochs))
    if log_dir is not None:
        # A fresh run starts a fresh history, and a resumed one continues it.
        # Within one run the CSV is appended to, because the fine-tuned
        # classifier calls fit() twice.
        log_dir = Path(log_dir)
        resuming = backup_dir is not None and Path(backup_dir).is_dir()
        if not resuming:
            shutil.rmtree(log_dir, ignore_errors=True)
        log_dir.mkdir(parents=True, exist_ok=True)
        callbacks.append(
            keras.callbacks.CSVLogger(str(log_dir / "history.csv"), append=True)
        )
        callbacks.append(
            keras.callbacks.TensorBoard(
                log_dir=str(log_dir / "tensorboard"),
                histogram_freq=0,
                write_graph=False,
                update_freq="epoch",
            )
        )
    return callbacks


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
