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
