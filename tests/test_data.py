"""Dataset readers on small files written in the real formats."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from genlab import data as data_module
from genlab.data import (
    CIFAR10_FOLDER,
    CIFAR10_TARBALL,
    balanced_sample,
    load_cifar10_tarball,
    load_dataset,
    load_dataset_npz,
    read_cifar10_batch,
    save_dataset_npz,
    subsample,
)
from genlab.errors import DatasetError
from tests.formats import (
    cifar10_batch_bytes,
    idx_bytes,
    random_cifar10,
    tampered_batch_bytes,
    write_cifar10_folder,
    write_cifar10_tarball,
    write_idx_folder,
)


@pytest.fixture
def idx_arrays(rng):
    return (
        rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, 30).astype(np.uint8),
        rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, 12).astype(np.uint8),
    )


class TestIdx:
    @pytest.mark.parametrize("compress", [True, False])
    def test_round_trip(self, tmp_path, idx_arrays, compress):
        write_idx_folder(tmp_path, *idx_arrays, compress=compress)
        dataset = load_dataset("fashion_mnist", tmp_path)
        assert dataset.x_train.shape == (30, 28, 28, 1)
        assert dataset.x_train.dtype == np.uint8
        np.testing.assert_array_equal(dataset.x_train[..., 0], idx_arrays[0])
        np.testing.assert_array_equal(dataset.y_test, idx_arrays[3])
        assert dataset.class_names[9] == "Ankle boot"

    def test_mnist_class_names(self, tmp_path, idx_arrays):
        write_idx_folder(tmp_path, *idx_arrays)
        assert load_dataset("mnist", tmp_path).class_names[3] == "3"

    def test_truncated_file(self, tmp_path, idx_arrays):
        write_idx_folder(tmp_path, *idx_arrays)
        path = tmp_path / "train-images-idx3-ubyte.gz"
        raw = gzip.decompress(path.read_bytes())
        path.write_bytes(gzip.compress(raw[:-100]))
        with pytest.raises(DatasetError, match="truncated or corrupt"):
            load_dataset("fashion_mnist", tmp_path)

    def test_corrupt_gzip(self, tmp_path, idx_arrays):
        write_idx_folder(tmp_path, *idx_arrays)
        (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8bnot gzip")
        with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz"):
            load_dataset("fashion_mnist", tmp_path)

    def test_wrong_magic(self, tmp_path, idx_arrays):
        write_idx_folder(tmp_path, *idx_arrays)
        raw = idx_bytes(idx_arrays[1], magic=0x00000803 - 2)  # labels as 1-dim
        (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw))
        with pytest.raises(DatasetError, match="wrong idx magic"):
            load_dataset("fashion_mnist", tmp_path)

    def test_label_out_of_range(self, tmp_path, idx_arrays):
        x_train, y_train, x_test, y_test = idx_arrays
        y_train = y_train.copy()
        y_train[3] = 10
        write_idx_folder(tmp_path, x_train, y_train, x_test, y_test)
        with pytest.raises(DatasetError, match="label 10 is out of range"):
            load_dataset("fashion_mnist", tmp_path)

    def test_counts_disagree(self, tmp_path, idx_arrays):
        x_train, y_train, x_test, y_test = idx_arrays
        write_idx_folder(tmp_path, x_train, y_train[:-1], x_test, y_test)
        with pytest.raises(DatasetError, match="do not match"):
            load_dataset("fashion_mnist", tmp_path)

    def test_missing_file(self, tmp_path, idx_arrays):
        write_idx_folder(tmp_path, *idx_arrays)
        (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
        with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz not found"):
            load_dataset("fashion_mnist", tmp_path)

    def test_missing_folder(self, tmp_path):
        with pytest.raises(DatasetError, match="data folder .* not found"):
            load_dataset("fashion_mnist", tmp_path / "absent")


class TestCifar10:
    def test_batch_layout(self, rng):
        images = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
        labels = np.array([0, 9, 3, 3], dtype=np.uint8)
        x, y = read_cifar10_batch(cifar10_batch_bytes(images, labels, "b"), "b")
        np.testing.assert_array_equal(x, images)
        np.testing.assert_array_equal(y, labels)

    def test_folder(self, tmp_path, rng):
        arrays = random_cifar10(rng)
        write_cifar10_folder(tmp_path, *arrays)
        dataset = load_dataset("cifar10", tmp_path)
        assert dataset.x_train.shape == (100, 32, 32, 3)
        np.testing.assert_array_equal(dataset.x_train, arrays[0])
        np.testing.assert_array_equal(dataset.y_test, arrays[3])
        assert dataset.class_names[0] == "airplane"

    def test_tarball(self, tmp_path, rng, monkeypatch):
        arrays = random_cifar10(rng)
        batches = write_cifar10_folder(tmp_path / "src", *arrays)
        tarball = write_cifar10_tarball(tmp_path / CIFAR10_TARBALL, batches)
        # The real checksum belongs to the real 163 MB file; accept this one.
        monkeypatch.setattr(
            data_module, "CIFAR10_SHA256", data_module.sha256_of(tarball)
        )
        dataset = load_dataset("cifar10", tmp_path)
        np.testing.assert_array_equal(dataset.x_test, arrays[2])

    def test_tarball_wrong_checksum(self, tmp_path, rng):
        batches = write_cifar10_folder(tmp_path / "src", *random_cifar10(rng))
        tarball = write_cifar10_tarball(tmp_path / CIFAR10_TARBALL, batches)
        with pytest.raises(DatasetError, match="does not match CIFAR-10"):
            load_cifar10_tarball(tarball)

    def test_tampered_pickle_rejected(self, tmp_path, rng):
        batches = write_cifar10_folder(tmp_path, *random_cifar10(rng))
        marker = tmp_path / "code-ran"
        (batches / "data_batch_3").write_bytes(tampered_batch_bytes(marker))
        with pytest.raises(DatasetError, match="data_batch_3: .*exec is not allowed"):
            load_dataset("cifar10", tmp_path)
        assert not marker.exists()

    def test_tampered_pickle_would_run(self, tmp_path):
        # Proves the payload is live: plain pickle runs it, the reader does not.
        import pickle

        marker = tmp_path / "code-ran"
        pickle.loads(tampered_batch_bytes(marker))
        assert marker.exists()

    def test_missing_batch(self, tmp_path, rng):
        batches = write_cifar10_folder(tmp_path, *random_cifar10(rng))
        (batches / "data_batch_5").unlink()
        with pytest.raises(DatasetError, match="data_batch_5 not found"):
            load_dataset("cifar10", tmp_path)

    def test_offline_message_names_fix(self, tmp_path, monkeypatch):
        monkeypatch.setattr(data_module, "_download", lambda *args, **kwargs: None)
        monkeypatch.setenv("HOME", str(tmp_path))
        with pytest.raises(DatasetError) as caught:
            load_dataset("cifar10")
        message = str(caught.value)
        assert CIFAR10_TARBALL in message
        assert CIFAR10_FOLDER in message
        assert "--dataset fashion_mnist" in message
        assert "\n" not in message


class TestDatasetFile:
    def test_npz_round_trip(self, tmp_path, fashion_slice):
        path = tmp_path / "slice.npz"
        save_dataset_npz(fashion_slice, path)
        loaded = load_dataset_npz(path)
        np.testing.assert_array_equal(loaded.x_train, fashion_slice.x_train)
        assert loaded.class_names == fashion_slice.class_names
        assert loaded.name == "fashion_mnist"

    def test_real_fashion_mnist(self, fashion_mnist):
        assert fashion_mnist.x_train.shape == (60000, 28, 28, 1)
        assert fashion_mnist.x_test.shape == (10000, 28, 28, 1)
        assert np.bincount(fashion_mnist.y_train).tolist() == [6000] * 10

    def test_subsample(self, fashion_mnist):
        small = subsample(fashion_mnist, 100, 50)
        assert len(small.x_train) == 100
        assert len(small.y_test) == 50

    def test_unknown_dataset(self):
        with pytest.raises(DatasetError, match="unknown dataset 'svhn'"):
            load_dataset("svhn")


class TestBalancedSample:
    def test_balanced(self, fashion_mnist):
        indices = balanced_sample(fashion_mnist.y_train, 500, 10, seed=3)
        assert len(set(indices.tolist())) == 500
        assert np.bincount(fashion_mnist.y_train[indices]).tolist() == [50] * 10

    def test_remainder_spread(self, fashion_mnist):
        indices = balanced_sample(fashion_mnist.y_train, 503, 10, seed=3)
        counts = np.bincount(fashion_mnist.y_train[indices], minlength=10)
        assert sorted(counts.tolist()) == [50] * 7 + [51] * 3

    def test_seed_changes_sample(self, fashion_mnist):
        first = balanced_sample(fashion_mnist.y_train, 500, 10, seed=0)
        second = balanced_sample(fashion_mnist.y_train, 500, 10, seed=1)
        assert set(first.tolist()) != set(second.tolist())

    def test_budget_below_classes(self, fashion_slice):
        with pytest.raises(ValueError, match="smaller than the 10 classes"):
            balanced_sample(fashion_slice.y_train, 9, 10, seed=0)

    def test_budget_above_train_set(self, fashion_slice):
        with pytest.raises(ValueError, match="larger than the 512 training"):
            balanced_sample(fashion_slice.y_train, 513, 10, seed=0)
