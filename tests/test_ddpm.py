"""DDPM: cosine schedule, forward process, training step, samplers, saving."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from genlab.data import Dataset
from genlab.models.ddpm import (
    DDPM,
    DDPMConfig,
    build_ddpm,
    cosine_alpha_bar,
    cosine_schedule,
    ddim_timesteps,
    training_dataset,
)

TINY = DDPMConfig(
    timesteps=20,
    filters=8,
    channel_multipliers=(1, 2, 2),
    groups=4,
    embedding_dim=16,
    epochs=1,
    batch_size=32,
    ema_decay=0.9,
    train_limit=64,
)
SHAPES = [(28, 28, 1), (32, 32, 3)]


@pytest.fixture(scope="module")
def tiny_models() -> dict[tuple[int, int, int], DDPM]:
    return {shape: build_ddpm(shape, TINY, seed=1) for shape in SHAPES}


class TestSchedule:
    def test_schedule_monotone(self):
        schedule = cosine_schedule(1000)
        assert np.all(np.diff(schedule.alpha_bars) < 0)

    def test_schedule_range(self):
        alpha_bars = cosine_schedule(1000).alpha_bars
        assert alpha_bars.min() > 0
        assert alpha_bars.max() <= 1

    def test_schedule_closed_form(self):
        schedule = cosine_schedule(1000)
        expected = cosine_alpha_bar(np.arange(1, 1001), 1000)
        # The clip at beta 0.999 changes only the final step, where f(T) = 0.
        np.testing.assert_allclose(schedule.alpha_bars[:-1], expected[:-1], rtol=1e-9)

    def test_schedule_betas_clipped(self):
        betas = cosine_schedule(1000).betas
        assert betas.max() == pytest.approx(0.999)

    def test_ddim_timesteps_descending(self):
        steps = ddim_timesteps(1000, 50)
        assert len(steps) == 50
        assert steps[0] == 999
        assert steps[-1] == 0
        assert np.all(np.diff(steps) < 0)

    def test_ddim_timesteps_too_many(self):
        with pytest.raises(ValueError, match="steps=21"):
            ddim_timesteps(20, 21)


class TestForwardProcess:
    @pytest.mark.parametrize("step", [0, TINY.timesteps - 1])
    def test_q_sample_mean_variance(self, tiny_models, step):
        model = tiny_models[(28, 28, 1)]
        alpha_bar = model.schedule.alpha_bars[step]
        rng = np.random.default_rng(0)
        x0 = np.full((4000, 28, 28, 1), 0.6, dtype=np.float32)
        noise = rng.standard_normal(x0.shape).astype(np.float32)
        noisy = np.asarray(model.q_sample(x0, np.full(len(x0), step), noise))
        assert noisy.mean() == pytest.approx(np.sqrt(alpha_bar) * 0.6, abs=3e-3)
        assert noisy.var() == pytest.approx(1 - alpha_bar, rel=1e-2, abs=1e-4)

    @pytest.mark.parametrize("step", [0, TINY.timesteps - 1])
    def test_q_sample_closed_form(self, tiny_models, step):
        model = tiny_models[(28, 28, 1)]
        alpha_bar = model.schedule.alpha_bars[step]
        rng = np.random.default_rng(1)
        x0 = rng.uniform(-1, 1, (3, 28, 28, 1)).astype(np.float32)
        noise = rng.standard_normal(x0.shape).astype(np.float32)
        noisy = np.asarray(model.q_sample(x0, np.full(3, step), noise))
        expected = np.sqrt(alpha_bar) * x0 + np.sqrt(1 - alpha_bar) * noise
        np.testing.assert_allclose(noisy, expected, rtol=1e-5, atol=1e-5)


class TestTraining:
    def test_fit_on_fashion_slice(self, fashion_slice: Dataset):
        # One training step on one batch of real images.
        config = dataclasses.replace(TINY, train_limit=TINY.batch_size)
        model = build_ddpm(fashion_slice.image_shape, config, seed=0)
        history = model.fit(
            training_dataset(fashion_slice.x_train, config), epochs=1, verbose=0
        )
        assert set(history.history) == {"loss"}
        assert np.isfinite(history.history["loss"][0])

    def test_metrics_names(self, tiny_models):
        model = tiny_models[(28, 28, 1)]
        assert [metric.name for metric in model.metrics] == ["loss"]

    def test_training_dataset_range(self, fashion_slice: Dataset):
        batch = next(iter(training_dataset(fashion_slice.x_train, TINY))).numpy()
        assert batch.shape == (TINY.batch_size, 28, 28, 1)
        assert batch.min() >= -1
        assert batch.max() <= 1

    def test_same_seed_same_weights(self):
        first = DDPM((28, 28, 1), TINY, seed=3).network.get_weights()
        second = DDPM((28, 28, 1), TINY, seed=3).network.get_weights()
        assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


class TestSamplers:
    @pytest.mark.parametrize("shape", SHAPES)
    def test_ddpm_sampler_shape(self, tiny_models, shape):
        images = tiny_models[shape].sample_ddpm(2, seed=0)
        assert images.shape == (2, *shape)
        assert images.dtype == np.float32
        assert images.min() >= 0
        assert images.max() <= 1

    @pytest.mark.parametrize("shape", SHAPES)
    def test_ddim_sampler_shape(self, tiny_models, shape):
        images = tiny_models[shape].sample_ddim(2, steps=5, seed=0)
        assert images.shape == (2, *shape)
        assert images.dtype == np.float32
        assert images.min() >= 0
        assert images.max() <= 1

    def test_ddim_frames(self, tiny_models):
        images, frames = tiny_models[(28, 28, 1)].sample_ddim(
            3, steps=5, seed=0, frames=4
        )
        assert frames.shape == (4, 3, 28, 28, 1)
        np.testing.assert_array_equal(frames[-1], images)

    def test_ddpm_frames(self, tiny_models):
        _, frames = tiny_models[(28, 28, 1)].sample_ddpm(
            1, seed=0, frames=TINY.timesteps + 1
        )
        assert frames.shape == (TINY.timesteps + 1, 1, 28, 28, 1)

    def test_ddim_seeded(self, tiny_models):
        model = tiny_models[(32, 32, 3)]
        first = model.sample_ddim(2, steps=4, seed=7)
        second = model.sample_ddim(2, steps=4, seed=7)
        np.testing.assert_array_equal(first, second)

    def test_ddpm_seed_changes_images(self, tiny_models):
        model = tiny_models[(28, 28, 1)]
        first = model.sample_ddpm(1, seed=1)
        second = model.sample_ddpm(1, seed=2)
        assert not np.array_equal(first, second)

    def test_frames_invalid(self, tiny_models):
        with pytest.raises(ValueError, match="frames=1"):
            tiny_models[(28, 28, 1)].sample_ddim(1, steps=3, frames=1)


class TestConfig:
    def test_config_bad_groups(self):
        with pytest.raises(ValueError, match="groups=5"):
            DDPMConfig(filters=8, groups=5)

    def test_config_bad_timesteps(self):
        with pytest.raises(ValueError, match="timesteps=1"):
            DDPMConfig(timesteps=1)

    def test_unet_bad_shape(self):
        with pytest.raises(ValueError, match="30, 30, 1"):
            DDPM((30, 30, 1), TINY)


class TestSaving:
    def test_save_load_round_trip(self, tmp_path):
        model = build_ddpm((32, 32, 3), TINY, seed=2)
        # One step moves the zero-initialized output layer, so the sampler
        # output depends on the loaded weights.
        images = np.random.default_rng(0).uniform(-1, 1, (32, 32, 32, 3))
        model.fit(images.astype(np.float32), batch_size=32, epochs=1, verbose=0)
        path = tmp_path / "ddpm.keras"
        model.save(path)
        loaded = keras.models.load_model(path, safe_mode=True)
        assert isinstance(loaded, DDPM)
        assert loaded.config == model.config
        assert loaded.image_shape == (32, 32, 3)
        for saved, restored in zip(model.weights, loaded.weights, strict=True):
            np.testing.assert_array_equal(saved.numpy(), restored.numpy())
        np.testing.assert_allclose(
            loaded.sample_ddim(2, steps=4, seed=5),
            model.sample_ddim(2, steps=4, seed=5),
            atol=1e-6,
        )
