"""Dataset readers for CIFAR-10, Fashion-MNIST and MNIST.

Every reader returns images as uint8 arrays of shape (n, height, width, channels)
and labels as uint8 arrays of shape (n,). Casting to float happens per batch in
the training input pipelines, so a study never keeps a float copy of a dataset.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import pickle
import struct
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genlab.errors import DatasetError

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
# SHA-256 of cifar-10-python.tar.gz, the value keras.datasets.cifar10 checks.
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CIFAR10_TARBALL = "cifar-10-python.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
MNIST_CLASSES = tuple(str(digit) for digit in range(10))

KERAS_DATASETS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# Folder of Debian's dataset-fashion-mnist package.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
MNIST_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# idx magic numbers: two zero bytes, type code 0x08 (unsigned byte), dimensions.
IDX_MAGIC_IMAGES = 0x00000803
IDX_MAGIC_LABELS = 0x00000801

DATASETS = ("cifar10", "fashion_mnist", "mnist")


@dataclass(frozen=True)
class Dataset:
    """Train and test splits of one image classification dataset, as uint8."""

    name: str
    x_train: np.ndarray  # (n_train, height, width, channels) uint8
    y_train: np.ndarray  # (n_train,) uint8
    x_test: np.ndarray  # (n_test, height, width, channels) uint8
    y_test: np.ndarray  # (n_test,) uint8
    class_names: tuple[str, ...]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(size) for size in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def validate_dataset(dataset: Dataset, source: str) -> Dataset:
    """Check dtype, shapes, label range and split counts; raise DatasetError."""
    for split in ("train", "test"):
        images = getattr(dataset, f"x_{split}")
        labels = getattr(dataset, f"y_{split}")
        if images.dtype != np.uint8 or labels.dtype != np.uint8:
            raise DatasetError(
                f"{source}: {split} split has dtypes {images.dtype}/{labels.dtype}, "
                "expected uint8 images and labels"
            )
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise DatasetError(
                f"{source}: {split} images have shape {images.shape}, "
                "expected (n, height, width, 1 or 3)"
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise DatasetError(
                f"{source}: {split} split has {len(images)} images but labels of "
                f"shape {labels.shape}; the image and label files do not match, so "
                "replace them with intact copies from the same release"
            )
        if len(images) == 0:
            raise DatasetError(
                f"{source}: {split} split is empty; replace the dataset files with "
                "intact copies"
            )
        if labels.max() >= dataset.num_classes:
            raise DatasetError(
                f"{source}: {split} label {int(labels.max())} is out of range "
                f"0..{dataset.num_classes - 1}; replace the label file with an "
                "intact copy"
            )
    if dataset.x_train.shape[1:] != dataset.x_test.shape[1:]:
        raise DatasetError(
            f"{source}: train images {dataset.x_train.shape[1:]} and test images "
            f"{dataset.x_test.shape[1:]} differ in shape; use the train and test "
            "files of one dataset"
        )
    return dataset


# ---------------------------------------------------------------------------
# idx files (MNIST, Fashion-MNIST)


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read an idx file (optionally gzip-compressed) into a uint8 array."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                raw = stream.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DatasetError(
            f"{path}: cannot read idx file ({error}); replace the file with an "
            "intact copy"
        ) from None

    if len(raw) < 4:
        raise DatasetError(
            f"{path}: file is truncated ({len(raw)} bytes); replace the file with "
            "an intact copy"
        )
    (magic,) = struct.unpack(">I", raw[:4])
    if magic != expected_magic:
        kind = "image" if expected_magic == IDX_MAGIC_IMAGES else "label"
        raise DatasetError(
            f"{path}: wrong idx magic number 0x{magic:08x}, expected "
            f"0x{expected_magic:08x} for an idx {kind} file; replace the file with "
            "an intact copy"
        )
    num_dims = magic & 0xFF
    header_size = 4 + 4 * num_dims
    if len(raw) < header_size:
        raise DatasetError(
            f"{path}: idx header is truncated; replace the file with an intact copy"
        )
    dims = struct.unpack(f">{num_dims}I", raw[4:header_size])
    expected_size = header_size + int(np.prod(dims))
    if len(raw) != expected_size:
        raise DatasetError(
            f"{path}: idx file has {len(raw)} bytes, its header {dims} needs "
            f"{expected_size}; the file is truncated or corrupt, so replace it "
            "with an intact copy"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)


def find_idx_file(data_dir: Path, stem: str) -> Path:
    for candidate in (data_dir / f"{stem}.gz", data_dir / stem):
        if candidate.is_file():
            return candidate
    names = ", ".join(f"{name}.gz" for name in IDX_FILES.values())
    raise DatasetError(
        f"{data_dir / (stem + '.gz')} not found; the data folder needs the four "
        f"idx files ({names}), compressed or not"
    )


def load_idx_folder(name: str, data_dir: Path, class_names: tuple[str, ...]) -> Dataset:
    """Load the four idx(.gz) files of an MNIST-style dataset from a folder."""
    if not data_dir.is_dir():
        raise DatasetError(
            f"data folder {data_dir} not found; pass --data-dir with the idx files"
            + (
                ", or run `apt-get install dataset-fashion-mnist`"
                if name == "fashion_mnist"
                else ""
            )
        )
    arrays = {}
    for key, stem in IDX_FILES.items():
        magic = IDX_MAGIC_IMAGES if key.endswith("images") else IDX_MAGIC_LABELS
        arrays[key] = read_idx(find_idx_file(data_dir, stem), magic)
    dataset = Dataset(
        name=name,
        x_train=arrays["train_images"][..., np.newaxis],
        y_train=arrays["train_labels"],
        x_test=arrays["test_images"][..., np.newaxis],
        y_test=arrays["test_labels"],
        class_names=class_names,
    )
    return validate_dataset(dataset, str(data_dir))


# ---------------------------------------------------------------------------
# CIFAR-10 python batches


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals a CIFAR-10 batch contains.

    The batches are pickled dicts of bytes, lists and one numpy array, so the
    only globals needed are numpy's array reconstruction helpers. Any other
    global (os.system, builtins.eval, ...) raises instead of being imported,
    which is what stops a tampered file from running code.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        # Python 3 writes bytes in protocol 2 as _codecs.encode(str, "latin1");
        # a pure conversion that runs no code of the file's choosing.
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"global {module}.{name} is not allowed in a CIFAR-10 batch"
            )
        # numpy 2 moved numpy.core to numpy._core; old pickles name the former.
        if module.startswith("numpy.core."):
            module = "numpy._core." + module.removeprefix("numpy.core.")
        return super().find_class(module, name)


def read_cifar10_batch(raw: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse one pickled CIFAR-10 batch into (images NHWC uint8, labels uint8)."""
    fix = f"replace it with the file from an intact {CIFAR10_TARBALL}"

    try:
        batch = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        raise DatasetError(
            f"{source}: not a valid CIFAR-10 batch ({error}); {fix}"
        ) from None
    if not isinstance(batch, dict):
        raise DatasetError(f"{source}: not a valid CIFAR-10 batch (not a dict); {fix}")

    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if not isinstance(data, np.ndarray) or labels is None:
        raise DatasetError(f"{source}: CIFAR-10 batch lacks 'data' or 'labels'; {fix}")
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(
            f"{source}: CIFAR-10 'data' has shape {data.shape} and dtype "
            f"{data.dtype}, expected (n, 3072) uint8; {fix}"
        )

    labels = np.asarray(labels)
    integer_labels = labels.size == 0 or labels.dtype.kind in "iu"
    if labels.shape != (len(data),) or not integer_labels:
        raise DatasetError(
            f"{source}: {len(data)} images but {labels.size} labels of dtype "
            f"{labels.dtype}, expected one integer label per image; {fix}"
        )
    invalid = labels[(labels < 0) | (labels > 9)]
    if invalid.size:
        raise DatasetError(
            f"{source}: label {int(invalid[0])} is out of range 0..9; {fix}"
        )

    # Rows are stored channel-major (3 planes of 32x32); the models want NHWC.
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.uint8)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_cifar10_members(read_member, source: str) -> Dataset:
    train = [
        read_cifar10_batch(read_member(name), f"{source}/{name}")
        for name in CIFAR10_TRAIN_BATCHES
    ]
    x_test, y_test = read_cifar10_batch(
        read_member(CIFAR10_TEST_BATCH), f"{source}/{CIFAR10_TEST_BATCH}"
    )
    dataset = Dataset(
        name="cifar10",
        x_train=np.concatenate([images for images, _ in train]),
        y_train=np.concatenate([labels for _, labels in train]),
        x_test=x_test,
        y_test=y_test,
        class_names=CIFAR10_CLASSES,
    )
    return validate_dataset(dataset, source)


def load_cifar10_tarball(path: Path, check_hash: bool = True) -> Dataset:
    """Load CIFAR-10 from cifar-10-python.tar.gz without extracting it to disk."""
    if check_hash:
        actual = sha256_of(path)
        if actual != CIFAR10_SHA256:
            raise DatasetError(
                f"{path}: SHA-256 {actual[:12]}... does not match CIFAR-10's "
                f"{CIFAR10_SHA256[:12]}...; delete the file and download it again"
            )
    try:
        with tarfile.open(path, "r:gz") as archive:

            def read_member(name: str) -> bytes:
                try:
                    member = archive.getmember(f"{CIFAR10_FOLDER}/{name}")
                except KeyError:
                    raise DatasetError(
                        f"{path}: archive lacks {CIFAR10_FOLDER}/{name}"
                    ) from None
                stream = archive.extractfile(member)
                if stream is None:
                    raise DatasetError(f"{path}: {name} is not a regular file")
                return stream.read()

            return _read_cifar10_members(read_member, str(path))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DatasetError(f"{path}: cannot read tarball ({error})") from None


def load_cifar10_folder(folder: Path) -> Dataset:
    """Load CIFAR-10 from an extracted cifar-10-batches-py folder."""

    def read_member(name: str) -> bytes:
        member = folder / name
        if not member.is_file():
            raise DatasetError(
                f"{member} not found; the folder needs data_batch_1..5 and test_batch"
            )
        return member.read_bytes()

    return _read_cifar10_members(read_member, str(folder))


def cifar10_missing_message(data_dir: Path | None) -> str:
    if data_dir is not None:
        return (
            f"CIFAR-10 not found in {data_dir}; put {CIFAR10_TARBALL} or the "
            f"extracted {CIFAR10_FOLDER}/ folder there, "
            "or use --dataset fashion_mnist"
        )
    return (
        f"CIFAR-10 not found and it could not be downloaded; put {CIFAR10_TARBALL} "
        f"or the extracted {CIFAR10_FOLDER}/ folder in a folder and pass it as "
        "--data-dir, or use --dataset fashion_mnist"
    )


def load_cifar10(data_dir: Path | None = None, download: bool = True) -> Dataset:
    """Load CIFAR-10 from a local folder, the Keras cache, or the download.

    With data_dir, that folder must contain the tarball, the extracted
    cifar-10-batches-py folder, or the batches themselves. Without it, the Keras
    cache (~/.keras/datasets) is tried, then the download that Keras uses.
    """
    if data_dir is not None:
        data_dir = Path(data_dir)
        if not data_dir.is_dir():
            raise DatasetError(cifar10_missing_message(data_dir))
        if (data_dir / CIFAR10_FOLDER).is_dir():
            return load_cifar10_folder(data_dir / CIFAR10_FOLDER)
        if (data_dir / CIFAR10_TEST_BATCH).is_file():
            return load_cifar10_folder(data_dir)
        if (data_dir / CIFAR10_TARBALL).is_file():
            return load_cifar10_tarball(data_dir / CIFAR10_TARBALL)
        raise DatasetError(cifar10_missing_message(data_dir))

    cache_dir = Path.home() / ".keras" / "datasets"
    if (cache_dir / CIFAR10_TARBALL).is_file():
        return load_cifar10_tarball(cache_dir / CIFAR10_TARBALL)
    if not download:
        raise DatasetError(cifar10_missing_message(None))
    tarball = _download(CIFAR10_TARBALL, CIFAR10_URL, CIFAR10_SHA256)
    if tarball is None:
        raise DatasetError(cifar10_missing_message(None))
    # The download was verified against the same hash already.
    return load_cifar10_tarball(tarball, check_hash=False)


# ---------------------------------------------------------------------------
# Downloads


def _download(fname: str, origin: str, sha256: str | None, subdir: str = "datasets"):
    """Download into the Keras cache; return the path, or None when offline."""
    import keras  # deferred: importing Keras costs seconds

    try:
        # Keras prints its progress to stdout, which belongs to the results.
        with contextlib.redirect_stdout(sys.stderr):
            return Path(
                keras.utils.get_file(
                    fname=fname, origin=origin, file_hash=sha256, cache_subdir=subdir
                )
            )
    except Exception as error:  # noqa: BLE001 - get_file raises bare Exception
        if "hash" in str(error).lower() or "checksum" in str(error).lower():
            raise DatasetError(
                f"download of {origin} failed its checksum; delete the partial file "
                f"in ~/.keras/{subdir} and retry"
            ) from None
        print(f"genlab: download of {origin} failed: {error}", file=sys.stderr)
        return None


def load_mnist_style(
    name: str, data_dir: Path | None = None, download: bool = True
) -> Dataset:
    """Load Fashion-MNIST or MNIST from idx files, the Debian folder or the web."""
    class_names = FASHION_MNIST_CLASSES if name == "fashion_mnist" else MNIST_CLASSES
    if data_dir is not None:
        return load_idx_folder(name, Path(data_dir), class_names)
    if name == "fashion_mnist" and DEBIAN_FASHION_MNIST_DIR.is_dir():
        return load_idx_folder(name, DEBIAN_FASHION_MNIST_DIR, class_names)

    cache_dir = Path.home() / ".keras" / "datasets" / name.replace("_", "-")
    if all((cache_dir / f"{stem}.gz").is_file() for stem in IDX_FILES.values()):
        return load_idx_folder(name, cache_dir, class_names)
    fix = (
        "run `apt-get install dataset-fashion-mnist` or pass --data-dir with the "
        "idx files"
        if name == "fashion_mnist"
        else "pass --data-dir with the idx files"
    )
    if not download:
        raise DatasetError(f"{name} not found locally; {fix}")

    if name == "mnist":
        path = _download(
            "mnist.npz", KERAS_DATASETS_URL + "mnist.npz", MNIST_NPZ_SHA256
        )
        if path is None:
            raise DatasetError(f"mnist could not be downloaded; {fix}")
        with np.load(path, allow_pickle=False) as arrays:
            dataset = Dataset(
                name=name,
                x_train=arrays["x_train"][..., np.newaxis],
                y_train=arrays["y_train"],
                x_test=arrays["x_test"][..., np.newaxis],
                y_test=arrays["y_test"],
                class_names=class_names,
            )
        return validate_dataset(dataset, str(path))

    for stem in IDX_FILES.values():
        # NOTE: Keras publishes no checksums for the Fashion-MNIST files; the idx
        # header check in read_idx is what catches a truncated download.
        path = _download(
            f"{stem}.gz",
            KERAS_DATASETS_URL + f"{stem}.gz",
            None,
            subdir=f"datasets/{cache_dir.name}",
        )
        if path is None:
            raise DatasetError(f"{name} could not be downloaded; {fix}")
    return load_idx_folder(name, cache_dir, class_names)


def load_dataset(
    name: str, data_dir: str | Path | None = None, download: bool = True
) -> Dataset:
    """Load a dataset by name: cifar10, fashion_mnist or mnist."""
    if name not in DATASETS:
        raise DatasetError(
            f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}"
        )
    data_dir = Path(data_dir).expanduser() if data_dir is not None else None
    if name == "cifar10":
        return load_cifar10(data_dir, download=download)
    return load_mnist_style(name, data_dir, download=download)


# ---------------------------------------------------------------------------
# Files passed between pipeline steps


def save_dataset_npz(dataset: Dataset, path: Path) -> None:
    """Write a dataset as an uncompressed .npz (uint8 arrays, class names)."""
    np.savez(
        path,
        x_train=dataset.x_train,
        y_train=dataset.y_train,
        x_test=dataset.x_test,
        y_test=dataset.y_test,
        class_names=np.array(dataset.class_names),
        name=np.array(dataset.name),
    )


def load_dataset_npz(path: str | Path) -> Dataset:
    """Read a dataset written by save_dataset_npz; pickled objects are rejected."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            dataset = Dataset(
                name=str(arrays["name"]),
                x_train=arrays["x_train"],
                y_train=arrays["y_train"],
                x_test=arrays["x_test"],
                y_test=arrays["y_test"],
                class_names=tuple(str(name) for name in arrays["class_names"]),
            )
    except (OSError, KeyError, ValueError) as error:
        raise DatasetError(f"{path}: cannot read dataset file ({error})") from None
    return validate_dataset(dataset, str(path))


def subsample(
    dataset: Dataset, train_limit: int | None, test_limit: int | None
) -> Dataset:
    """Keep the first train_limit and test_limit images (None keeps all)."""
    return Dataset(
        name=dataset.name,
        x_train=dataset.x_train[:train_limit],
        y_train=dataset.y_train[:train_limit],
        x_test=dataset.x_test[:test_limit],
        y_test=dataset.y_test[:test_limit],
        class_names=dataset.class_names,
    )


def balanced_sample(
    labels: np.ndarray, size: int, num_classes: int, seed: int
) -> np.ndarray:
    """Return indices of a class-balanced random sample of `size` labels.

    Each class gets size // num_classes images, and the remainder goes to
    randomly chosen classes, one extra image each.
    """
    if size < num_classes:
        raise ValueError(
            f"label budget {size} is smaller than the {num_classes} classes; "
            f"use at least {num_classes}"
        )
    if size > len(labels):
        raise ValueError(
            f"label budget {size} is larger than the {len(labels)} training "
            f"images; use {len(labels)} or fewer"
        )
    rng = np.random.default_rng(seed)
    per_class = np.full(num_classes, size // num_classes)
    per_class[rng.choice(num_classes, size % num_classes, replace=False)] += 1
    chosen = []
    for label, count in enumerate(per_class):
        candidates = np.flatnonzero(labels == label)
        if len(candidates) < count:
            raise ValueError(
                f"class {label} has {len(candidates)} training images, the "
                f"balanced sample of {size} needs {count}; lower the label budget"
            )
        chosen.append(rng.choice(candidates, count, replace=False))
    indices = np.concatenate(chosen)
    rng.shuffle(indices)
    return indices
