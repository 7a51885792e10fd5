"""The genlab command line: help, and one-line errors on bad input."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run_genlab(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )


def test_help_lists_run():
    result = run_genlab("--help")
    assert result.returncode == 0
    assert "run" in result.stdout


def test_run_help_lists_options():
    result = run_genlab("run", "--help")
    for option in (
        "--dataset",
        "--profile",
        "--data-dir",
        "--artifacts-dir",
        "--seeds",
    ):
        assert option in result.stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--seeds", "0"], "--seeds 0 is invalid"),
        (["--data-dir", "/nonexistent/genlab"], "/nonexistent/genlab"),
        (["--dataset", "cifar10", "--data-dir", "{empty}"], "--dataset fashion_mnist"),
        (["--artifacts-dir", "{file}/sub"], "is not writable"),
    ],
)
def test_bad_input_one_line(tmp_path, args, expected):
    marker = tmp_path / "file"
    marker.write_text("not a folder")
    (tmp_path / "empty").mkdir()
    args = [arg.format(file=marker, empty=tmp_path / "empty") for arg in args]
    result = run_genlab(
        "run",
        "--dataset",
        "fashion_mnist",
        "--profile",
        "smoke",
        "--artifacts-dir",
        str(tmp_path / "artifacts"),
        *args,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]


@pytest.mark.parametrize("option", ["--dataset svhn", "--profile huge"])
def test_unknown_choice_rejected(option):
    result = run_genlab("run", *option.split())
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


@pytest.fixture(scope="module")
def saved_generators(tmp_path_factory):
    """An untrained DCGAN and conditional GAN saved as .keras files."""
    from genlab.model_configs import CGANConfig, DCGANConfig
    from genlab.models.cgan import ConditionalGAN
    from genlab.models.gan import DCGAN

    folder = tmp_path_factory.mktemp("generators")
    dcgan = DCGAN((28, 28, 1), DCGANConfig(filters=8, latent_dim=8))
    dcgan.compile()
    dcgan.save(folder / "dcgan.keras")
    cgan = ConditionalGAN((28, 28, 1), 10, CGANConfig(filters=8, latent_dim=8))
    cgan.compile()
    cgan.save(folder / "cgan.keras")
    return folder


class TestSample:
    def test_writes_png(self, saved_generators, tmp_path):
        output = tmp_path / "grid.png"
        result = run_genlab(
            "sample",
            "--model",
            str(saved_generators / "dcgan.keras"),
            "--n",
            "9",
            "--output",
            str(output),
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == str(output)
        assert output.read_bytes()[:4] == b"\x89PNG"

    def test_cgan_label(self, saved_generators, tmp_path):
        output = tmp_path / "bags.png"
        result = run_genlab(
            "sample",
            "--model",
            str(saved_generators / "cgan.keras"),
            "--n",
            "4",
            "--label",
            "8",
            "--output",
            str(output),
        )
        assert result.returncode == 0, result.stderr
        assert output.is_file()

    @pytest.mark.parametrize(
        "model, extra, expected",
        [
            ("cgan.keras", ["--label", "10"], "--label 10 is out of range 0..9"),
            ("dcgan.keras", ["--label", "1"], "--label needs a conditional GAN"),
            ("dcgan.keras", ["--n", "0"], "--n 0 is invalid"),
            ("absent.keras", [], "not found"),
        ],
    )
    def test_bad_input(self, saved_generators, model, extra, expected):
        result = run_genlab("sample", "--model", str(saved_generators / model), *extra)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert expected in result.stderr
