"""Training helpers shared by the models (pure Keras)."""

from __future__ import annotations

import math

import keras

from genlab.errors import GenlabError


class TrainingDivergedError(GenlabError, RuntimeError):
    """A loss became NaN or infinite, so training stopped."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raise TrainingDivergedError at the first batch whose loss is not finite.

    Keras' TerminateOnNaN only stops fit(), after which a caller would save the
    broken weights; raising makes the failure impossible to miss.
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            if "loss" in key and not math.isfinite(float(value)):
                raise TrainingDivergedError(
                    f"{self.name}: {key} became {float(value)} at batch {batch}; "
                    "lower the learning rate or check the input data"
                )
