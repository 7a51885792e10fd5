"""Training callbacks that make progress visible in Prefect and on disk.

Imported inside the training tasks, so that a fully cached run never loads
TensorFlow.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import keras
from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.context import TaskRunContext

from genlab.training import StopOnNonFiniteLoss

PROGRESS_INTERVAL_SECONDS = 5.0


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
        self.last_update = float("-inf")

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
        # Each update is a blocking request to the server. The 500-label
        # classifiers run 30 epochs of a fraction of a second each, so the
        # bar moves at most every few seconds, and always at the last epoch.
        now = time.monotonic()
        last_epoch = epoch + 1 >= self.epochs
        if self.artifact_id is not None and (
            last_epoch or now - self.last_update >= PROGRESS_INTERVAL_SECONDS
        ):
            self.last_update = now
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
