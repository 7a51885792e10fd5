"""Loading and sampling any generator through genlab.generators."""

from __future__ import annotations

import numpy as np
import pytest

from genlab.generators import (
    generate_images,
    load_generator,
    parse_sampler,
    seconds_per_image,
)
from genlab.model_configs import CGANConfig, DCGANConfig, DDPMConfig, VAEConfig
from genlab.models.cgan import ConditionalGAN
from genlab.models.ddpm import build_ddpm
from genlab.models.gan import DCGAN
from genlab.models.vae import VAE

SHAPE = (28, 28, 1)
TINY_DDPM = DDPMConfig(
    timesteps=10, filters=8, channel_multipliers=(1, 1), groups=4, embedding_dim=16
)


@pytest.fixture(scope="module")
def generators():
    return {
        "vae": VAE(SHAPE, VAEConfig(filters=8, dense_units=16, latent_dim=4)),
        "dcgan": DCGAN(SHAPE, DCGANConfig(filters=8, latent_dim=8)),
        "cgan": ConditionalGAN(SHAPE, 10, CGANConfig(filters=8, latent_dim=8)),
        "ddpm": build_ddpm(SHAPE, TINY_DDPM),
    }


@pytest.mark.parametrize("name", ["vae", "dcgan", "cgan", "ddpm"])
def test_images_in_unit_range(generators, name):
    images = generate_images(generators[name], 5, seed=3)
    assert images.shape == (5, *SHAPE)
    assert images.min() >= 0.0
    assert images.max() <= 1.0


@pytest.mark.parametrize("sampler", ["ancestral", "ddim_4"])
def test_ddpm_samplers(generators, sampler):
    images = generate_images(generators["ddpm"], 3, sampler=sampler, batch_size=2)
    assert images.shape == (3, *SHAPE)


def test_labels_rejected_unconditional(generators):
    with pytest.raises(ValueError, match="unconditional"):
        generate_images(generators["dcgan"], 2, labels=np.array([1, 2]))


def test_same_seed_same_images(generators):
    first = generate_images(generators["dcgan"], 4, seed=7)
    second = generate_images(generators["dcgan"], 4, seed=7)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(
    "text, expected", [("ancestral", ("ancestral", 0)), ("ddim_20", ("ddim", 20))]
)
def test_parse_sampler(text, expected):
    assert parse_sampler(text) == expected


@pytest.mark.parametrize("text", ["ddim", "ddim_x", "euler", None])
def test_parse_sampler_rejects(text):
    with pytest.raises(ValueError, match="unknown sampler"):
        parse_sampler(text)


def test_seconds_per_image_positive(generators):
    assert seconds_per_image(generators["dcgan"], 8) > 0


def test_load_rejects_non_generator(tmp_path):
    import keras

    path = tmp_path / "plain.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(path)
    with pytest.raises(ValueError, match="not a genlab generator"):
        load_generator(path)
