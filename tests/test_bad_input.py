"""Bad input to the genlab command: one line on stderr, a non-zero exit, no results.

Every case runs the real command in a subprocess, like a user would.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from genlab.data import CIFAR10_TARBALL
from tests.formats import (
    cifar10_batch_bytes,
    idx_bytes,
    random_cifar10,
    tampered_batch_bytes,
    write_cifar10_folder,
    write_cifar10_tarball,
    write_idx_folder,
)

REPOSITORY = Path(__file__).resolve().parents[1]
# TensorFlow's C++ start-up lines, which TF_CPP_MIN_LOG_LEVEL does not silence.
STARTUP_NOISE = ("WARNING: All log messages before absl", "I0000", "E0000")
# Files a later run or a script could take for the output of a finished run.
RESULT_PATTERNS = ("summary.csv", "*.keras", "*.npz", "*.png")
TINY_TRAIN_IMAGES = 30  # below the smoke profile's label budget of 100

# The start of every `genlab run` case. argparse keeps the last value of a
# repeated option, so a case can override any of these.
RUN = (
    "run",
    "--dataset",
    "fashion_mnist",
    "--profile",
    "smoke",
    "--parts",
    "representation",
    "--artifacts-dir",
    "{artifacts}",
)


@dataclass(frozen=True)
class BadInput:
    """One bad command line and what its error line must contain.

    `{tmp}`, `{data}` and `{artifacts}` in args, value and fix become paths in
    the test's tmp_path. setup writes the input files into the data folder.
    """

    args: tuple[str, ...]
    value: str
    fix: str
    setup: Callable[[Path], None] | None = None
    wrong: str | None = None  # text the line must not contain


def tiny_idx_arrays() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        rng.integers(0, 256, (TINY_TRAIN_IMAGES, 28, 28), dtype=np.uint8),
        (np.arange(TINY_TRAIN_IMAGES) % 10).astype(np.uint8),
        rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        (np.arange(12) % 10).astype(np.uint8),
    ]


def write_tiny_idx(data: Path) -> None:
    write_idx_folder(data, *tiny_idx_arrays())


def cut_gzip_stream(data: Path) -> None:
    write_tiny_idx(data)
    path = data / "train-images-idx3-ubyte.gz"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def cut_idx_payload(data: Path) -> None:
    write_tiny_idx(data)
    path = data / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))


def replace_with_non_gzip(data: Path) -> None:
    write_tiny_idx(data)
    (data / "t10k-labels-idx1-ubyte.gz").write_bytes(b"this is not a gzip stream")


def swap_in_label_file(data: Path) -> None:
    # A label file (magic 0x00000801) under the name of the image file.
    x_train, y_train, x_test, y_test = tiny_idx_arrays()
    write_idx_folder(data, x_train, y_train, x_test, y_test)
    (data / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(y_train)))


def write_label_ten(data: Path) -> None:
    x_train, y_train, x_test, y_test = tiny_idx_arrays()
    y_train[3] = 10
    write_idx_folder(data, x_train, y_train, x_test, y_test)


def drop_one_label(data: Path) -> None:
    x_train, y_train, x_test, y_test = tiny_idx_arrays()
    write_idx_folder(data, x_train, y_train[:-1], x_test, y_test)


def remove_test_images(data: Path) -> None:
    write_tiny_idx(data)
    (data / "t10k-images-idx3-ubyte.gz").unlink()


def plant_code_running_batch(data: Path) -> None:
    batches = write_cifar10_folder(data, *random_cifar10(np.random.default_rng(0)))
    marker = data.parent / "code-ran"
    (batches / "data_batch_3").write_bytes(tampered_batch_bytes(marker))


def write_cifar_label_ten(data: Path) -> None:
    batches = write_cifar10_folder(data, *random_cifar10(np.random.default_rng(0)))
    images = np.zeros((4, 32, 32, 3), dtype=np.uint8)
    labels = np.array([0, 10, 2, 3])
    (batches / "data_batch_2").write_bytes(
        cifar10_batch_bytes(images, labels, "data_batch_2")
    )


def write_cifar_tarball(data: Path) -> None:
    # Random batches, so the tarball cannot have the real file's SHA-256.
    source = data.parent / "cifar-source"
    batches = write_cifar10_folder(source, *random_cifar10(np.random.default_rng(0)))
    data.mkdir()
    write_cifar10_tarball(data / CIFAR10_TARBALL, batches)


def write_garbage_model(data: Path) -> None:
    data.mkdir()
    (data / "cached.keras").write_bytes(np.random.default_rng(0).bytes(3000))


CASES = [
    pytest.param(
        BadInput(
            (*RUN, "--data-dir", "{data}"),
            value="train-images-idx3-ubyte.gz",
            fix="replace the file with an intact copy",
            setup=cut_gzip_stream,
        ),
        id="idx-gzip-stream-truncated",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--data-dir", "{data}"),
            value="train-images-idx3-ubyte.gz",
            fix="replace it with an intact copy",
            setup=cut_idx_payload,
        ),
        id="idx-payload-truncated",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--data-dir", "{data}"),
            value="t10k-labels-idx1-ubyte.gz",
            fix="replace the file with an intact copy",
            setup=replace_with_non_gzip,
        ),
        id="idx-not-gzip",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--data-dir", "{data}"),
            value="wrong idx magic number 0x00000801",
            fix="replace the file with an intact copy",
            setup=swap_in_label_file,
        ),
        id="idx-wrong-magic",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--data-dir", "{data}"),
            value="label 10 is out of range 0..9",
            fix="replace the label file with an intact copy",
            setup=write_label_ten,
        ),
        id="idx-label-out-of-range",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--data-dir", "{data}"),
            value="30 images but labels of shape (29,)",
            fix="replace them with intact copies",
            setup=drop_one_label,
        ),
        id="idx-count-mismatch",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--data-dir", "{data}"),
            value="t10k-images-idx3-ubyte.gz not found",
            fix="the data folder needs the four idx files",
            setup=remove_test_images,
        ),
        id="idx-file-missing",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--data-dir", "{tmp}/absent"),
            value="{tmp}/absent not found",
            fix="pass --data-dir with the idx files",
        ),
        id="data-folder-missing",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--dataset", "cifar10", "--data-dir", "{data}"),
            value="data_batch_3: not a valid CIFAR-10 batch",
            fix=f"replace it with the file from an intact {CIFAR10_TARBALL}",
            setup=plant_code_running_batch,
        ),
        id="cifar10-code-running-pickle",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--dataset", "cifar10", "--data-dir", "{data}"),
            value="data_batch_2: label 10 is out of range 0..9",
            fix=f"replace it with the file from an intact {CIFAR10_TARBALL}",
            setup=write_cifar_label_ten,
        ),
        id="cifar10-label-out-of-range",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--dataset", "cifar10", "--data-dir", "{data}"),
            value=f"{CIFAR10_TARBALL}: SHA-256",
            fix="delete the file and download it again",
            setup=write_cifar_tarball,
        ),
        id="cifar10-tarball-checksum",
    ),
    pytest.param(
        BadInput((*RUN, "--seeds", "0"), value="--seeds 0", fix="use 1 or more"),
        id="seeds-zero",
    ),
    pytest.param(
        BadInput((*RUN, "--seeds", "-2"), value="--seeds -2", fix="use 1 or more"),
        id="seeds-negative",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--data-dir", "{data}"),
            value="label budget 100",
            fix=f"--labels {TINY_TRAIN_IMAGES} or fewer",
            setup=write_tiny_idx,
        ),
        id="profile-label-budget-above-train-set",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--data-dir", "{data}", "--labels", "31"),
            value="--labels 31",
            fix=f"{TINY_TRAIN_IMAGES} or fewer",
            setup=write_tiny_idx,
        ),
        id="labels-above-train-set",
    ),
    pytest.param(
        BadInput((*RUN, "--labels", "5"), value="--labels 5", fix="10 or more"),
        id="labels-below-classes",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--autoencoder-epochs", "-1"),
            value="--autoencoder-epochs -1",
            fix="use 1 or more",
        ),
        id="autoencoder-epochs-negative",
    ),
    pytest.param(
        BadInput((*RUN, "--dataset", "svhn"), value="'svhn'", fix="choose from"),
        id="dataset-unknown",
    ),
    pytest.param(
        BadInput((*RUN, "--profile", "huge"), value="'huge'", fix="choose from"),
        id="profile-unknown",
    ),
    pytest.param(
        BadInput((*RUN, "--prompt", ""), value="prompt is empty", fix="pass a prompt"),
        id="prompt-empty",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--prompt", "   "), value="prompt is empty", fix="pass a prompt"
        ),
        id="prompt-blank",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--sd-image-size", "64"),
            value="image size 64",
            fix="multiples of 128",
        ),
        id="stable-diffusion-size-64",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--artifacts-dir", "{tmp}/file/artifacts"),
            value="{tmp}/file/artifacts is not writable",
            fix="pass --artifacts-dir with a writable folder",
        ),
        id="artifacts-under-file",
    ),
    pytest.param(
        BadInput(
            (*RUN, "--artifacts-dir", "{tmp}/file"),
            value="{tmp}/file is a file",
            fix="pass --artifacts-dir with a folder",
        ),
        id="artifacts-is-file",
    ),
    pytest.param(
        BadInput(
            ("sample", "--model", "{data}/cached.keras"),
            value="{data}/cached.keras",
            fix="--model",
            setup=write_garbage_model,
            wrong="File not found",
        ),
        id="sample-corrupt-keras",
    ),
]


def error_lines(stderr: str) -> list[str]:
    """Return the non-empty stderr lines that are not TensorFlow start-up noise."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and not line.startswith(STARTUP_NOISE)
    ]


def files_under(folder: Path, excluded: Path) -> set[Path]:
    return {
        path
        for path in folder.rglob("*")
        if path.is_file() and excluded not in path.parents
    }


@pytest.mark.parametrize("case", CASES)
def test_bad_input_rejected(tmp_path, case: BadInput):
    places = {
        "tmp": tmp_path,
        "data": tmp_path / "data",
        "artifacts": tmp_path / "artifacts",
    }
    (tmp_path / "file").write_text("a regular file, not a folder")
    if case.setup is not None:
        case.setup(places["data"])
    prefect_home = tmp_path / "prefect-home"
    before = files_under(tmp_path, prefect_home)

    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", *(a.format(**places) for a in case.args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": str(REPOSITORY),
            "PREFECT_HOME": str(prefect_home),
        },
    )

    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr[-3000:]
    assert case.value.format(**places) in lines[0]
    assert case.fix.format(**places) in lines[0]
    if case.wrong is not None:
        assert case.wrong not in lines[0]
    # A failed run must not print a summary path that a script would read.
    assert result.stdout == ""
    assert not (tmp_path / "code-ran").exists(), "the pickled code ran"
    written = files_under(tmp_path, prefect_home) - before
    for pattern in RESULT_PATTERNS:
        matches = [path for path in written if path.match(pattern)]
        assert not matches, f"a failed run wrote {matches}"
