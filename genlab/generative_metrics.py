"""Metrics for generators: Fréchet distance, class diversity, conditional accuracy.

The Fréchet distance here is computed in the penultimate-layer features of a
small classifier trained on the same dataset (`build_evaluation_classifier`).
It is NOT the Inception FID of Heusel et al. (2017): values are comparable
only between runs that use the same evaluation classifier weights.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import keras
import numpy as np
import scipy.linalg
from keras import layers

PENULTIMATE_LAYER = "penultimate"


def frechet_distance_from_moments(
    mean_a: np.ndarray,
    cov_a: np.ndarray,
    mean_b: np.ndarray,
    cov_b: np.ndarray,
    eps: float = 1e-6,
) -> float:
    """Return the Fréchet distance between N(mean_a, cov_a) and N(mean_b, cov_b).

    d^2 = |mean_a - mean_b|^2 + Tr(cov_a + cov_b - 2 (cov_a cov_b)^(1/2)).
    """
    mean_a = np.atleast_1d(np.asarray(mean_a, dtype=np.float64))
    mean_b = np.atleast_1d(np.asarray(mean_b, dtype=np.float64))
    cov_a = np.atleast_2d(np.asarray(cov_a, dtype=np.float64))
    cov_b = np.atleast_2d(np.asarray(cov_b, dtype=np.float64))
    if mean_a.shape != mean_b.shape or cov_a.shape != cov_b.shape:
        raise ValueError(
            f"moment shapes differ: means {mean_a.shape} and {mean_b.shape}, "
            f"covariances {cov_a.shape} and {cov_b.shape}"
        )
    if cov_a.shape != (mean_a.size, mean_a.size):
        raise ValueError(
            f"covariance shape {cov_a.shape} does not match mean size {mean_a.size}"
        )

    covmean = _matrix_sqrt(cov_a @ cov_b)
    if not np.isfinite(covmean).all():
        # A singular product (e.g. fewer samples than features) can make
        # sqrtm fail, so both covariances are shifted by eps * I.
        offset = np.eye(cov_a.shape[0]) * eps
        covmean = _matrix_sqrt((cov_a + offset) @ (cov_b + offset))
    if np.iscomplexobj(covmean):
        # Round-off gives tiny imaginary parts, but large ones mean a real error.
        max_imaginary = np.max(np.abs(covmean.imag))
        if max_imaginary > 1e-3:
            raise ValueError(
                f"matrix square root has an imaginary component of "
                f"{max_imaginary:.3g}; the covariances may not be positive "
                "semi-definite"
            )
        covmean = covmean.real

    mean_term = float(np.sum(np.square(mean_a - mean_b)))
    trace_term = float(np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean))
    return mean_term + trace_term


def _matrix_sqrt(matrix: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        # SciPy warns on every singular input, which is common for ReLU
        # features with dead units. The finiteness and imaginary-part checks
        # in the caller catch the results that are unusable.
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        return scipy.linalg.sqrtm(matrix)


def frechet_distance(
    features_a: np.ndarray, features_b: np.ndarray, eps: float = 1e-6
) -> float:
    """Return the Fréchet distance between Gaussians fitted to two feature sets.

    Each input has shape (n_samples, n_features). Covariances divide by n - 1.
    """
    features_a = np.asarray(features_a, dtype=np.float64)
    features_b = np.asarray(features_b, dtype=np.float64)
    for name, features in (("features_a", features_a), ("features_b", features_b)):
        if features.ndim != 2 or len(features) < 2:
            raise ValueError(
                f"{name} has shape {features.shape}; expected (n_samples, "
                "n_features) with at least 2 samples"
            )
    return frechet_distance_from_moments(
        features_a.mean(axis=0),
        np.cov(features_a, rowvar=False),
        features_b.mean(axis=0),
        np.cov(features_b, rowvar=False),
        eps=eps,
    )


@dataclass(frozen=True)
class ClassDiversity:
    """Spread of predicted classes over a set of generated images."""

    entropy_nats: float  # Shannon entropy of the predicted-class histogram
    normalized_entropy: float  # entropy / ln(num_classes): 1 is uniform, 0 one class
    coverage: float  # share of classes predicted for at least min_fraction
    class_fractions: np.ndarray  # (num_classes,) share of images per class


def class_diversity(
    predicted_labels: np.ndarray, num_classes: int, min_fraction: float | None = None
) -> ClassDiversity:
    """Measure mode collapse from the classes a classifier assigns to samples.

    A class counts as covered when it receives at least min_fraction of the
    images. The default, 0.1 / num_classes, is a tenth of the uniform share.
    """
    labels = _check_labels(predicted_labels, num_classes, "predicted_labels")
    if len(labels) == 0:
        raise ValueError("predicted_labels is empty; pass at least one label")
    if min_fraction is None:
        min_fraction = 0.1 / num_classes
    fractions = np.bincount(labels, minlength=num_classes) / len(labels)
    nonzero = fractions[fractions > 0]
    # Adding 0.0 turns the -0.0 of a single-class histogram into 0.0.
    entropy = float(-np.sum(nonzero * np.log(nonzero))) + 0.0
    return ClassDiversity(
        entropy_nats=entropy,
        normalized_entropy=entropy / float(np.log(num_classes)),
        coverage=float(np.mean(fractions >= min_fraction)),
        class_fractions=fractions,
    )


@dataclass(frozen=True)
class ConditionalAccuracy:
    """Share of generated images whose predicted class is the requested class."""

    overall: float
    per_class: np.ndarray  # (num_classes,), NaN for classes never requested


def conditional_accuracy(
    requested_labels: np.ndarray, predicted_labels: np.ndarray, num_classes: int
) -> ConditionalAccuracy:
    """Compare requested class labels with the classes predicted for the images."""
    requested = _check_labels(requested_labels, num_classes, "requested_labels")
    predicted = _check_labels(predicted_labels, num_classes, "predicted_labels")
    if requested.shape != predicted.shape:
        raise ValueError(
            f"got {len(requested)} requested and {len(predicted)} predicted labels; "
            "pass one prediction per requested label"
        )
    if len(requested) == 0:
        raise ValueError("requested_labels is empty; pass at least one label")
    correct = requested == predicted
    per_class = np.full(num_classes, np.nan)
    for label in range(num_classes):
        mask = requested == label
        if mask.any():
            per_class[label] = correct[mask].mean()
    return ConditionalAccuracy(overall=float(correct.mean()), per_class=per_class)


def _check_labels(labels, num_classes: int, name: str) -> np.ndarray:
    labels = np.asarray(labels).reshape(-1)
    if num_classes < 2:
        raise ValueError(f"num_classes={num_classes} is invalid; use 2 or more")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} has dtype {labels.dtype}; expected integer labels")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"{name} contains values from {labels.min()} to {labels.max()}; "
            f"expected class ids in [0, {num_classes})"
        )
    return labels.astype(np.int64)


def build_evaluation_classifier(
    image_shape: tuple[int, int, int], num_classes: int, seed: int = 0
) -> keras.Model:
    """Build a compiled conv classifier for images in [0, 1] that judges samples.

    Its dense layer named PENULTIMATE_LAYER gives the features for
    `frechet_distance`, and that distance is NOT Inception FID.
    """

    def init(offset: int) -> keras.initializers.Initializer:
        # Seeded per layer, so classifiers built in parallel are reproducible.
        return keras.initializers.GlorotUniform(seed=seed * 1000 + offset)

    images = keras.Input(shape=image_shape, name="images")
    x = images
    for index, filters in enumerate((32, 64), start=1):
        x = layers.Conv2D(
            filters,
            3,
            padding="same",
            activation="relu",
            kernel_initializer=init(index),
            name=f"conv_{index}",
        )(x)
        x = layers.MaxPool2D(2, name=f"pool_{index}")(x)
    x = layers.Flatten(name="flatten")(x)
    features = layers.Dense(
        128, activation="relu", kernel_initializer=init(3), name=PENULTIMATE_LAYER
    )(x)
    x = layers.Dropout(0.3, seed=seed, name="dropout")(features)
    probabilities = layers.Dense(
        num_classes, activation="softmax", kernel_initializer=init(4), name="classes"
    )(x)
    model = keras.Model(images, probabilities, name="evaluation_classifier")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def as_unit_float(images: np.ndarray) -> np.ndarray:
    """Return images as float32 in [0, 1], dividing uint8 input by 255."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return images.astype(np.float32, copy=False)


def penultimate_features(
    model: keras.Model, images: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Return the PENULTIMATE_LAYER activations (n, units) for the Fréchet distance.

    Images are uint8 or float in [0, 1], shape (n, h, w, c).
    """
    extractor = keras.Model(
        model.inputs, model.get_layer(PENULTIMATE_LAYER).output, name="features"
    )
    return extractor.predict(as_unit_float(images), batch_size=batch_size, verbose=0)


def predict_classes(
    model: keras.Model, images: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Return the evaluation classifier's predicted class ids, shape (n,)."""
    probabilities = model.predict(
        as_unit_float(images), batch_size=batch_size, verbose=0
    )
    return np.argmax(probabilities, axis=1)
