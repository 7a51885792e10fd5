"""VAE, DCGAN (with and without replay) and cGAN: one training step each.

Models have a few filters each, so the file ran in about 35 s on 2 CPU cores.
The checks cover shapes, losses, saving and the replay buffer.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from genlab.data import Dataset
from genlab.errors import ConfigError
from genlab.models.callbacks import SampleGridCallback
from genlab.models.cgan import CGANConfig, ConditionalGAN
from genlab.models.gan import DCGAN, DCGANConfig, to_tanh_range
from genlab.models.replay import ReplayBuffer, mix_fakes, replay_count
from genlab.models.vae import VAE, VAEConfig, to_unit_range
from genlab.plots_generative import save_image_grid

BATCH = 32
NUM_CLASSES = 10
MODEL_KINDS = ("vae", "dcgan", "replay_dcgan", "cgan")
TRACKED_METRICS = {
    "vae": {"loss", "reconstruction_loss", "kl_loss"},
    "dcgan": {"d_loss", "g_loss"},
    "replay_dcgan": {"d_loss", "g_loss"},
    "cgan": {"d_loss", "g_loss"},
}

SMALL_VAE = VAEConfig(latent_dim=4, filters=4, dense_units=8, batch_size=BATCH)
SMALL_DCGAN = DCGANConfig(latent_dim=8, filters=4, batch_size=BATCH)
SMALL_REPLAY_DCGAN = dataclasses.replace(
    SMALL_DCGAN, replay_fraction=0.5, replay_buffer_size=64
)
SMALL_CGAN = CGANConfig(latent_dim=8, filters=4, embedding_dim=4, batch_size=BATCH)


def build_model(kind: str, image_shape: tuple[int, int, int], seed: int = 0):
    """Build and compile one small model of the given kind."""
    if kind == "vae":
        model = VAE(image_shape, SMALL_VAE, seed=seed)
    elif kind == "dcgan":
        model = DCGAN(image_shape, SMALL_DCGAN, seed=seed)
    elif kind == "replay_dcgan":
        model = DCGAN(image_shape, SMALL_REPLAY_DCGAN, seed=seed)
    else:
        model = ConditionalGAN(image_shape, NUM_CLASSES, SMALL_CGAN, seed=seed)
    model.compile()
    return model


def fit_one_step(model, kind: str, images: np.ndarray, labels: np.ndarray):
    """Run fit() for one step of BATCH uint8 images, scaled as the model needs."""
    scaled = to_unit_range(images) if kind == "vae" else to_tanh_range(images)
    targets = labels if kind == "cgan" else None
    return model.fit(
        scaled,
        targets,
        batch_size=BATCH,
        epochs=1,
        steps_per_epoch=1,
        shuffle=False,
        verbose=0,
    )


@pytest.fixture(scope="module")
def trained(fashion_slice: Dataset) -> dict:
    """Each model kind after one step on real Fashion-MNIST: (model, history)."""
    images = fashion_slice.x_train[:BATCH]
    labels = fashion_slice.y_train[:BATCH]
    results = {}
    for kind in MODEL_KINDS:
        model = build_model(kind, fashion_slice.image_shape)
        history = fit_one_step(model, kind, images, labels)
        results[kind] = (model, history.history)
    return results


@pytest.mark.parametrize("kind", MODEL_KINDS)
class TestTrainingStep:
    def test_tracked_metric_names(self, trained, kind):
        _, history = trained[kind]
        assert set(history) == TRACKED_METRICS[kind]

    def test_losses_finite(self, trained, kind):
        _, history = trained[kind]
        for name, values in history.items():
            assert np.isfinite(values).all(), f"{name} = {values}"

    def test_sample_shape(self, trained, kind):
        model, _ = trained[kind]
        assert model.sample(5, seed=1).shape == (5, 28, 28, 1)

    def test_sample_dtype(self, trained, kind):
        model, _ = trained[kind]
        assert model.sample(5, seed=1).dtype == np.float32

    def test_sample_in_unit_range(self, trained, kind):
        images = trained[kind][0].sample(5, seed=1)
        assert images.min() >= 0.0
        assert images.max() <= 1.0

    def test_sample_same_seed_repeats(self, trained, kind):
        model, _ = trained[kind]
        np.testing.assert_array_equal(model.sample(4, seed=3), model.sample(4, seed=3))

    def test_sample_seeds_differ(self, trained, kind):
        model, _ = trained[kind]
        assert not np.array_equal(model.sample(4, seed=3), model.sample(4, seed=4))


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_color_32_shapes(kind, rng):
    images = rng.integers(0, 256, size=(BATCH, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, NUM_CLASSES, size=BATCH).astype(np.uint8)
    model = build_model(kind, (32, 32, 3))
    history = fit_one_step(model, kind, images, labels).history
    assert model.sample(3, seed=0).shape == (3, 32, 32, 3)
    for name, values in history.items():
        assert np.isfinite(values).all(), f"{name} = {values}"


@pytest.mark.parametrize("kind", MODEL_KINDS)
class TestSaveLoad:
    def test_round_trip_samples(self, trained, kind, tmp_path):
        model, _ = trained[kind]
        path = tmp_path / f"{kind}.keras"
        model.save(path)
        loaded = keras.models.load_model(path, safe_mode=True)
        assert type(loaded) is type(model)
        np.testing.assert_allclose(
            loaded.sample(4, seed=7), model.sample(4, seed=7), atol=1e-6
        )

    def test_round_trip_config(self, trained, kind, tmp_path):
        model, _ = trained[kind]
        path = tmp_path / f"{kind}.keras"
        model.save(path)
        loaded = keras.models.load_model(path, safe_mode=True)
        assert loaded.config == model.config

    def test_round_trip_optimizer_state(self, trained, kind, tmp_path):
        model, _ = trained[kind]
        path = tmp_path / f"{kind}.keras"
        model.save(path)
        loaded = keras.models.load_model(path, safe_mode=True)
        optimizer_name = "optimizer" if kind == "vae" else "g_optimizer"
        before = getattr(model, optimizer_name).variables
        after = getattr(loaded, optimizer_name).variables
        assert len(after) == len(before)
        for old, new in zip(before, after, strict=True):
            np.testing.assert_array_equal(new.numpy(), old.numpy(), err_msg=old.path)


class TestSeeding:
    def test_dcgan_same_seed_same_weights(self):
        first = DCGAN((28, 28, 1), SMALL_DCGAN, seed=5)
        second = DCGAN((28, 28, 1), SMALL_DCGAN, seed=5)
        for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)

    def test_dcgan_seeds_differ(self):
        first = DCGAN((28, 28, 1), SMALL_DCGAN, seed=5)
        second = DCGAN((28, 28, 1), SMALL_DCGAN, seed=6)
        kernel_a = first.generator.get_layer("project").get_weights()[0]
        kernel_b = second.generator.get_layer("project").get_weights()[0]
        assert not np.array_equal(kernel_a, kernel_b)

    def test_vae_same_seed_same_weights(self):
        first = VAE((28, 28, 1), SMALL_VAE, seed=2)
        second = VAE((28, 28, 1), SMALL_VAE, seed=2)
        for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)


class TestReplayBuffer:
    def test_push_fills(self):
        buffer = ReplayBuffer(4, (2, 2, 1), seed=0)
        buffer.push(np.ones((3, 2, 2, 1), np.float32))
        assert int(buffer.filled.numpy()) == 3

    def test_push_caps_at_capacity(self):
        buffer = ReplayBuffer(4, (2, 2, 1), seed=0)
        buffer.push(np.ones((3, 2, 2, 1), np.float32))
        buffer.push(np.ones((3, 2, 2, 1), np.float32))
        assert int(buffer.filled.numpy()) == 4

    def test_push_wraps_to_oldest(self):
        buffer = ReplayBuffer(4, (1, 1, 1), seed=0)
        buffer.push(np.arange(1, 4, dtype=np.float32).reshape(3, 1, 1, 1))
        buffer.push(np.arange(4, 6, dtype=np.float32).reshape(2, 1, 1, 1))
        # Slots 0..2 got 1..3, then 4 went to slot 3 and 5 overwrote slot 0.
        stored = buffer.images.numpy().reshape(-1)
        np.testing.assert_array_equal(stored, [5.0, 2.0, 3.0, 4.0])

    def test_draw_only_filled_slots(self):
        buffer = ReplayBuffer(8, (1, 1, 1), seed=0)
        buffer.push(np.full((2, 1, 1, 1), 7.0, np.float32))
        drawn = np.asarray(buffer.draw(50)).reshape(-1)
        assert set(drawn.tolist()) == {7.0}

    def test_draw_shape(self):
        buffer = ReplayBuffer(8, (2, 3, 1), seed=0)
        buffer.push(np.ones((2, 2, 3, 1), np.float32))
        assert tuple(buffer.draw(5).shape) == (5, 2, 3, 1)

    def test_replay_count_rounds(self):
        assert int(replay_count(32, 0.25)) == 8

    def test_mix_replaces_last_rows(self):
        fresh = np.zeros((8, 2, 2, 1), np.float32)
        replayed = np.ones((8, 2, 2, 1), np.float32)
        mixed = np.asarray(mix_fakes(fresh, replayed, 3))
        row_values = mixed.reshape(8, -1).mean(axis=1)
        np.testing.assert_array_equal(row_values, [0, 0, 0, 0, 0, 1, 1, 1])

    def test_mix_zero_count_keeps_fresh(self):
        fresh = np.zeros((4, 2, 2, 1), np.float32)
        replayed = np.ones((4, 2, 2, 1), np.float32)
        np.testing.assert_array_equal(np.asarray(mix_fakes(fresh, replayed, 0)), fresh)

    def test_training_step_pushes_fakes(self, trained):
        model, _ = trained["replay_dcgan"]
        # One step of BATCH images at replay_fraction 0.5 stores BATCH / 2 fakes.
        assert int(model.replay_buffer.filled.numpy()) == BATCH // 2

    def test_pushed_fakes_in_tanh_range(self, trained):
        model, _ = trained["replay_dcgan"]
        stored = model.replay_buffer.images.numpy()[: BATCH // 2]
        assert np.abs(stored).max() <= 1.0
        assert np.abs(stored).max() > 0.0

    def test_empty_buffer_keeps_fresh(self):
        model = DCGAN((28, 28, 1), SMALL_REPLAY_DCGAN)
        fresh = np.zeros((BATCH, 28, 28, 1), np.float32)
        mixed = np.asarray(model._with_replayed_fakes(fresh))
        np.testing.assert_array_equal(mixed, fresh)

    def test_filled_buffer_mixes_fraction(self):
        model = DCGAN((28, 28, 1), SMALL_REPLAY_DCGAN)
        model.replay_buffer.push(np.ones((64, 28, 28, 1), np.float32))
        fresh = np.zeros((BATCH, 28, 28, 1), np.float32)
        mixed = np.asarray(model._with_replayed_fakes(fresh))
        replayed_rows = mixed.reshape(BATCH, -1).max(axis=1) == 1.0
        # replay_fraction 0.5: the last half of the batch comes from the buffer.
        np.testing.assert_array_equal(replayed_rows, np.arange(BATCH) >= BATCH // 2)

    def test_plain_dcgan_has_no_buffer(self, trained):
        model, _ = trained["dcgan"]
        assert model.replay_buffer is None

    def test_same_networks_with_replay(self, trained):
        plain, _ = trained["dcgan"]
        replay, _ = trained["replay_dcgan"]
        assert plain.generator.count_params() == replay.generator.count_params()
        assert plain.discriminator.count_params() == replay.discriminator.count_params()

    def test_fraction_one_rejected(self):
        with pytest.raises(ConfigError, match="replay_fraction"):
            DCGANConfig(replay_fraction=1.0)

    def test_buffer_smaller_than_batch_rejected(self):
        with pytest.raises(ConfigError, match="replay_buffer_size"):
            DCGANConfig(replay_fraction=0.5, batch_size=64, replay_buffer_size=32)


class TestConditionalGenerate:
    def test_generate_shape(self, trained):
        model, _ = trained["cgan"]
        assert model.generate([0, 3, 9]).shape == (3, 28, 28, 1)

    def test_label_changes_image(self, trained):
        model, _ = trained["cgan"]
        # Same latent vector (seed), different labels.
        first = model.generate([0], seed=1)
        second = model.generate([5], seed=1)
        assert not np.array_equal(first, second)

    def test_label_out_of_range_rejected(self, trained):
        model, _ = trained["cgan"]
        with pytest.raises(ValueError, match="labels must be in"):
            model.generate([NUM_CLASSES])

    def test_sample_with_labels(self, trained):
        model, _ = trained["cgan"]
        np.testing.assert_array_equal(
            model.sample(2, seed=4, labels=[1, 2]), model.generate([1, 2], seed=4)
        )

    def test_fit_without_labels_rejected(self, fashion_slice):
        model = build_model("cgan", fashion_slice.image_shape)
        images = to_tanh_range(fashion_slice.x_train[:BATCH])
        with pytest.raises(ValueError, match="needs labels"):
            model.fit(images, batch_size=BATCH, epochs=1, verbose=0)


class TestVAEInterpolation:
    def test_interpolate_shape(self, trained, fashion_slice):
        model, _ = trained["vae"]
        images = to_unit_range(fashion_slice.x_test[:2])
        assert model.interpolate(images[0], images[1], steps=6).shape == (6, 28, 28, 1)

    def test_interpolate_endpoints(self, trained, fashion_slice):
        model, _ = trained["vae"]
        images = to_unit_range(fashion_slice.x_test[:2])
        path = model.interpolate(images[0], images[1], steps=5)
        reconstructions = model.decode(model.encode(images))
        np.testing.assert_allclose(path[[0, -1]], reconstructions, atol=1e-5)

    def test_evaluate_reports_losses(self, trained, fashion_slice):
        model, _ = trained["vae"]
        images = to_unit_range(fashion_slice.x_test[:BATCH])
        results = model.evaluate(images, batch_size=BATCH, verbose=0, return_dict=True)
        assert set(results) == TRACKED_METRICS["vae"]


def test_sample_grid_callback_writes_png(tmp_path, fashion_slice):
    model = build_model("dcgan", fashion_slice.image_shape)

    def save_grid(images, path):
        save_image_grid(images, path, rows=2)

    callback = SampleGridCallback(save_grid, tmp_path, n=4, seed=0)
    model.fit(
        to_tanh_range(fashion_slice.x_train[:BATCH]),
        batch_size=BATCH,
        epochs=2,
        steps_per_epoch=1,
        verbose=0,
        callbacks=[callback],
    )
    assert [path.name for path in callback.saved_paths] == [
        "epoch_001.png",
        "epoch_002.png",
    ]
    assert all(path.stat().st_size > 0 for path in callback.saved_paths)
