"""Writers of small dataset files in the real CIFAR-10 and idx formats."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np

from genlab.data import CIFAR10_FOLDER, CIFAR10_TEST_BATCH, CIFAR10_TRAIN_BATCHES


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Encode a uint8 array as an idx file: magic, big-endian dims, raw bytes."""
    if magic is None:
        magic = 0x00000800 | array.ndim
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_folder(
    folder: Path,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    compress: bool = True,
) -> Path:
    """Write the four MNIST-style idx files; images are (n, 28, 28) uint8."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "train-images-idx3-ubyte": x_train,
        "train-labels-idx1-ubyte": y_train,
        "t10k-images-idx3-ubyte": x_test,
        "t10k-labels-idx1-ubyte": y_test,
    }
    for stem, array in files.items():
        raw = idx_bytes(array)
        if compress:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / stem).write_bytes(raw)
    return folder


def cifar10_batch_bytes(images: np.ndarray, labels: np.ndarray, name: str) -> bytes:
    """Pickle a batch like the original python version of CIFAR-10.

    The originals were written by Python 2 as dicts with byte-string keys, a
    (n, 3072) uint8 array in channel-major order and a list of int labels,
    with pickle protocol 2.
    """
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    batch = {
        b"batch_label": name.encode(),
        b"labels": [int(label) for label in labels],
        b"data": np.ascontiguousarray(rows, dtype=np.uint8),
        b"filenames": [f"image_{i}.png".encode() for i in range(len(images))],
    }
    return pickle.dumps(batch, protocol=2)


def random_cifar10(rng: np.random.Generator, per_batch: int = 20):
    """Return random (train images, train labels, test images, test labels)."""
    count = per_batch * len(CIFAR10_TRAIN_BATCHES)
    return (
        rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 10, count).astype(np.uint8),
        rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 10, per_batch).astype(np.uint8),
    )


def write_cifar10_folder(folder: Path, x_train, y_train, x_test, y_test) -> Path:
    """Write data_batch_1..5 and test_batch into folder/cifar-10-batches-py."""
    batches = folder / CIFAR10_FOLDER
    batches.mkdir(parents=True, exist_ok=True)
    per_batch = len(x_train) // len(CIFAR10_TRAIN_BATCHES)
    for index, name in enumerate(CIFAR10_TRAIN_BATCHES):
        part = slice(index * per_batch, (index + 1) * per_batch)
        (batches / name).write_bytes(
            cifar10_batch_bytes(x_train[part], y_train[part], name)
        )
    (batches / CIFAR10_TEST_BATCH).write_bytes(
        cifar10_batch_bytes(x_test, y_test, CIFAR10_TEST_BATCH)
    )
    return batches


def write_cifar10_tarball(path: Path, batches_folder: Path) -> Path:
    """Pack a cifar-10-batches-py folder as cifar-10-python.tar.gz."""
    with tarfile.open(path, "w:gz") as archive:
        archive.add(batches_folder, arcname=CIFAR10_FOLDER)
    return path


class CodeRunningPayload:
    """Pickles to a call of exec: loading it with plain pickle runs the code."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def tampered_batch_bytes(marker: Path) -> bytes:
    """A CIFAR-10-shaped batch whose labels, when unpickled, create `marker`."""
    batch = {
        b"batch_label": b"tampered",
        b"labels": CodeRunningPayload(f"open({str(marker)!r}, 'w').close()"),
        b"data": np.zeros((1, 3072), dtype=np.uint8),
    }
    return pickle.dumps(batch, protocol=2)


def gzip_bytes(raw: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as stream:
        stream.write(raw)
    return buffer.getvalue()
