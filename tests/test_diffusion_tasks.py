"""Diffusion tasks: the Stable Diffusion skip path and the diffusion summary rows."""

from __future__ import annotations

import math

import pytest
from prefect.cache_policies import NO_CACHE
from prefect.logging import disable_run_logger

from genlab import stable_diffusion
from genlab.config import DiffusionConfig
from genlab.errors import ConfigError
from tasks.diffusion import check_stable_diffusion
from tasks.report import summarize_diffusion


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """An empty Keras cache and a download that fails as it does offline."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def fail_download(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(stable_diffusion, "download_weights", fail_download)
    return tmp_path


class TestStableDiffusionTask:
    def test_offline_skips(self, offline_cache):
        with disable_run_logger():
            reason = check_stable_diffusion.fn(DiffusionConfig())
        # Offline the host lookup fails first, online the patched download.
        assert "download failed (OSError: " in reason
        assert "--stable-diffusion random" in reason

    def test_off_skips(self):
        with disable_run_logger():
            reason = check_stable_diffusion.fn(DiffusionConfig(stable_diffusion="off"))
        assert reason.startswith("turned off")

    def test_random_needs_no_weights(self, offline_cache):
        with disable_run_logger():
            reason = check_stable_diffusion.fn(
                DiffusionConfig(stable_diffusion="random")
            )
        assert reason is None

    def test_skip_not_cached(self):
        # A skip for lack of network must not be replayed once a network exists.
        assert check_stable_diffusion.cache_policy is NO_CACHE

    def test_skip_row(self, offline_cache):
        with disable_run_logger():
            reason = check_stable_diffusion.fn(DiffusionConfig())
            rows = summarize_diffusion.fn({}, {"skipped": reason})
        assert len(rows) == 1
        assert rows[0]["step"] == "stable_diffusion"
        assert rows[0]["variant"] == "skipped"
        assert rows[0]["note"] == reason

    def test_timing_rows(self):
        timings = {
            "seconds_per_step": 1.5,
            "first_step_seconds": 9.0,
            "peak_rss_mib": 5e3,
        }
        with disable_run_logger():
            rows = summarize_diffusion.fn(
                {},
                {
                    "timings": timings,
                    "random_weights": True,
                    "seconds": 20.0,
                    "pictures": {},
                },
            )
        by_metric = {row["metric"]: row for row in rows}
        assert by_metric["seconds_per_step"]["value"] == 1.5
        assert by_metric["peak_memory_mib"]["value"] == 5e3
        assert by_metric["seconds_per_step"]["variant"] == "random_weights"
        assert "noise" in by_metric["seconds_per_step"]["note"]


class TestDiffusionConfig:
    @pytest.mark.parametrize(
        "changes, message",
        [
            ({"prompt": "   "}, "prompt is empty"),
            ({"sd_image_size": 100}, "multiples of 128"),
            ({"stable_diffusion": "always"}, "stable_diffusion='always' is invalid"),
            ({"samplers": ("euler",)}, "sampler 'euler' is invalid"),
            ({"sd_steps": 0}, "sd_steps=0 is invalid"),
        ],
    )
    def test_rejects(self, changes, message):
        with pytest.raises(ConfigError, match=message):
            DiffusionConfig(**changes)


def test_ddpm_rows_per_sampler():
    measured = {
        "images": 10,
        "frechet_distance": 2.0,
        "normalized_entropy": 0.9,
        "coverage": 1.0,
        "seconds_per_image": 0.5,
        "train_seconds": 60.0,
    }
    with disable_run_logger():
        rows = summarize_diffusion.fn(
            {"ancestral": measured, "ddim_20": measured}, {"skipped": "off"}
        )
    variants = {row["variant"] for row in rows}
    assert {"ddpm_ancestral", "ddpm_ddim_20", "skipped"} <= variants
    assert all(math.isfinite(row["value"]) for row in rows)
