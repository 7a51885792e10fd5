"""Denoising autoencoder and small-label classifier on real Fashion-MNIST batches."""

from __future__ import annotations

import numpy as np
import pytest

from genlab.config import AutoencoderConfig, ClassifierConfig
from genlab.inputs import image_batches
from genlab.models.autoencoder import CODING_LAYER, build_denoising_autoencoder
from genlab.models.classifier import (
    build_classifier,
    compile_classifier,
    training_phases,
)

SMALL = AutoencoderConfig(filters=8, coding_units=32, epochs=1, batch_size=64)


class TestAutoencoder:
    @pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
    def test_output_shape(self, shape):
        autoencoder, encoder = build_denoising_autoencoder(shape, SMALL)
        images = np.random.default_rng(0).random((2, *shape), dtype=np.float32)
        assert autoencoder(images).shape == (2, *shape)
        assert encoder(images).shape == (2, SMALL.coding_units)

    def test_published_layout(self):
        autoencoder, encoder = build_denoising_autoencoder(
            (32, 32, 3), AutoencoderConfig()
        )
        noise = encoder.get_layer("noise")
        assert noise.stddev == pytest.approx(0.1)
        assert encoder.get_layer("conv").filters == 32
        assert encoder.get_layer(CODING_LAYER).units == 512
        assert autoencoder.get_layer("decoder").get_layer("deconv").strides == (2, 2)

    def test_odd_shape_rejected(self):
        with pytest.raises(ValueError, match="even height and width"):
            build_denoising_autoencoder((27, 27, 1), SMALL)

    def test_fit_lowers_loss(self, fashion_slice):
        autoencoder, _ = build_denoising_autoencoder((28, 28, 1), SMALL, seed=1)
        batches = image_batches(fashion_slice.x_train, 64, target="images")
        history = autoencoder.fit(batches, epochs=3, verbose=0)
        losses = history.history["loss"]
        assert all(np.isfinite(losses))
        assert losses[-1] < losses[0]

    def test_outputs_in_unit_range(self, fashion_slice):
        autoencoder, _ = build_denoising_autoencoder((28, 28, 1), SMALL)
        outputs = autoencoder.predict(
            image_batches(fashion_slice.x_test, 64), verbose=0
        )
        assert outputs.min() >= 0.0
        assert outputs.max() <= 1.0

    def test_seed_fixes_weights(self):
        first, _ = build_denoising_autoencoder((28, 28, 1), SMALL, seed=4)
        second, _ = build_denoising_autoencoder((28, 28, 1), SMALL, seed=4)
        for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)


class TestClassifier:
    def test_pretrained_weights_copied(self):
        _, encoder = build_denoising_autoencoder((28, 28, 1), SMALL, seed=7)
        classifier, part = build_classifier((28, 28, 1), 10, SMALL, 1, encoder)
        for a, b in zip(encoder.get_weights(), part.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        assert part is not encoder

    def test_scratch_same_architecture(self):
        _, encoder = build_denoising_autoencoder((28, 28, 1), SMALL, seed=7)
        pretrained, _ = build_classifier((28, 28, 1), 10, SMALL, 1, encoder)
        scratch, _ = build_classifier((28, 28, 1), 10, SMALL, 1)
        assert [w.shape for w in pretrained.weights] == [
            w.shape for w in scratch.weights
        ]

    def test_softmax_output(self, fashion_slice):
        classifier, _ = build_classifier((28, 28, 1), 10, SMALL, seed=0)
        probabilities = classifier.predict(
            image_batches(fashion_slice.x_test[:16], 16), verbose=0
        )
        assert probabilities.shape == (16, 10)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

    def test_frozen_encoder_unchanged(self, fashion_slice):
        _, encoder = build_denoising_autoencoder((28, 28, 1), SMALL, seed=7)
        classifier, part = build_classifier((28, 28, 1), 10, SMALL, 1, encoder)
        part.trainable = False
        compile_classifier(classifier, 1e-3)
        before = [w.copy() for w in part.get_weights()]
        batches = image_batches(
            fashion_slice.x_train[:64],
            32,
            labels=fashion_slice.y_train[:64],
            target="labels",
        )
        classifier.fit(batches, epochs=1, verbose=0)
        for a, b in zip(before, part.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)


class TestTrainingPhases:
    CONFIG = ClassifierConfig(epochs=30, head_warmup_epochs=10)

    @pytest.mark.parametrize("variant", ["scratch", "frozen", "fine_tuned"])
    def test_same_epoch_budget(self, variant):
        phases = training_phases(variant, self.CONFIG)
        assert phases[0].first_epoch == 0
        assert phases[-1].end_epoch == 30

    def test_fine_tuned_warms_head_first(self):
        warmup, fine_tune = training_phases("fine_tuned", self.CONFIG)
        assert not warmup.encoder_trainable
        assert fine_tune.encoder_trainable
        assert fine_tune.first_epoch == warmup.end_epoch == 10
        assert fine_tune.learning_rate == self.CONFIG.fine_tune_learning_rate

    def test_frozen_never_trains_encoder(self):
        assert not any(
            p.encoder_trainable for p in training_phases("frozen", self.CONFIG)
        )

    def test_unknown_variant(self):
        with pytest.raises(ValueError, match="unknown variant 'probe'"):
            training_phases("probe", self.CONFIG)
