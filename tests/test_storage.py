"""File references, verified cached results and atomic writes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tasks.storage import (
    VerifiedJSONSerializer,
    atomic_path,
    file_ref,
    genlab_modules_used,
    write_atomic,
)


@pytest.fixture
def stored(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"weights" * 100)
    serializer = VerifiedJSONSerializer()
    blob = serializer.dumps({"model": file_ref(path), "accuracy": 0.5})
    return path, serializer, blob


class TestVerifiedSerializer:
    def test_intact_loads(self, stored):
        path, serializer, blob = stored
        result = serializer.loads(blob)
        assert result["accuracy"] == 0.5
        assert result["model"]["path"] == str(path)

    def test_deleted_file_rejected(self, stored):
        path, serializer, blob = stored
        path.unlink()
        with pytest.raises(FileNotFoundError, match="no longer exists"):
            serializer.loads(blob)

    def test_truncated_file_rejected(self, stored):
        path, serializer, blob = stored
        path.write_bytes(path.read_bytes()[:-1])
        with pytest.raises(ValueError, match="changed size"):
            serializer.loads(blob)

    def test_altered_file_rejected(self, stored):
        path, serializer, blob = stored
        path.write_bytes(b"Weights" * 100)
        with pytest.raises(ValueError, match="changed content"):
            serializer.loads(blob)

    def test_nested_refs_checked(self, tmp_path):
        path = tmp_path / "a.png"
        path.write_bytes(b"png")
        serializer = VerifiedJSONSerializer()
        blob = serializer.dumps({"pictures": [{"grid": file_ref(path)}]})
        path.unlink()
        with pytest.raises(FileNotFoundError):
            serializer.loads(blob)


class TestAtomicWrite:
    def test_success_replaces(self, tmp_path):
        path = tmp_path / "out.txt"
        ref = write_atomic(path, lambda temporary: temporary.write_text("new"))
        assert path.read_text() == "new"
        assert ref["bytes"] == 3

    def test_failure_leaves_nothing(self, tmp_path):
        path = tmp_path / "out.txt"

        def fail(temporary):
            temporary.write_text("half")
            raise RuntimeError("writer failed")

        with pytest.raises(RuntimeError):
            write_atomic(path, fail)
        assert list(tmp_path.iterdir()) == []

    def test_failure_keeps_previous(self, tmp_path):
        path = tmp_path / "out.txt"
        path.write_text("old")
        with pytest.raises(RuntimeError), atomic_path(path) as temporary:
            temporary.write_text("half")
            raise RuntimeError("writer failed")
        assert path.read_text() == "old"

    def test_keeps_suffix(self, tmp_path):
        with atomic_path(tmp_path / "m.keras", suffix=".keras") as temporary:
            assert temporary.suffix == ".keras"
            temporary.write_bytes(b"x")


class TestCacheKeySource:
    def test_modules_found(self):
        import tasks.autoencoder  # noqa: F401

        used = genlab_modules_used("tasks.autoencoder")
        assert "genlab.models.autoencoder" in used
        assert "genlab.data" in used

    def test_unrelated_excluded(self):
        import tasks.data  # noqa: F401

        assert "genlab.models.autoencoder" not in genlab_modules_used("tasks.data")

    def test_function_level_import_counted(self):
        # tasks.generative imports the models inside its tasks only.
        import tasks.generative  # noqa: F401

        used = genlab_modules_used("tasks.generative")
        assert {"genlab.models.vae", "genlab.models.cgan"} <= used

    def test_flows_load_without_tensorflow(self):
        # A fully cached rerun must not pay for TensorFlow's import.
        code = (
            "import sys, flows.cli, flows.study, flows.stable_diffusion; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
        )
        output = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert output.stdout.strip() == "[]"
