"""Keras callback that reports training progress to the Prefect run logger."""

from __future__ import annotations

import keras
from prefect import get_run_logger


class PrefectProgress(keras.callbacks.Callback):
    """Log every epoch's metrics to the task run's logger.

    The task run's log is what the Prefect dashboard shows while a task runs,
    so long training is visible epoch by epoch.
    """

    def __init__(self, name: str, epochs: int) -> None:
        super().__init__()
        self.name = name
        self.epochs = epochs
        self.logger = get_run_logger()

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
