"""Stable Diffusion layer: input checks, offline behaviour, random-weight render.

The tokenizer vocabulary comes from the open-clip-torch package, so these tests
need it installed (`pip install --no-deps open-clip-torch`) but no network.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
import sys

import numpy as np
import pytest

from genlab.stable_diffusion import (
    VOCABULARY_FILE,
    VOCABULARY_SHA256,
    WEIGHT_FILES,
    WeightsUnavailableError,
    find_vocabulary,
    install_vocabulary,
    packaged_vocabulary,
    render_prompt,
    weights_available,
)

# Network events seen while `recording` is set: ("socket.connect", address) and
# ("socket.getaddrinfo", host). Audit hooks cannot be removed, so the hook stays
# installed and only records inside the network_audit fixture.
NETWORK_EVENTS: list[tuple[str, object]] = []
recording = False


def record_network_events(event: str, args: tuple) -> None:
    if not recording:
        return
    if event == "socket.connect":
        NETWORK_EVENTS.append((event, args[1]))
    elif event == "socket.getaddrinfo":
        NETWORK_EVENTS.append((event, args[0]))


sys.addaudithook(record_network_events)


def is_loopback_host(host: object) -> bool:
    if host in ("localhost", b"localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def remote_events(events: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """Keep the events that reach beyond this machine."""
    remote = []
    for event, target in events:
        if event == "socket.connect" and isinstance(target, (str, bytes)):
            continue  # an AF_UNIX socket path
        host = target[0] if event == "socket.connect" else target
        if not is_loopback_host(host):
            remote.append((event, target))
    return remote


@pytest.fixture
def network_audit():
    """Record socket connections and name lookups made during the test."""
    global recording
    NETWORK_EVENTS.clear()
    recording = True
    yield NETWORK_EVENTS
    recording = False


@pytest.fixture
def empty_cache(tmp_path):
    """A Keras home folder without weights or vocabulary."""
    return tmp_path / "keras_home"


class TestValidation:
    def test_empty_prompt_rejected(self, empty_cache):
        with pytest.raises(ValueError, match="prompt='  ' is empty"):
            render_prompt("  ", image_size=128, cache_dir=empty_cache)

    @pytest.mark.parametrize("size", [64, 100, 0, -128, (128, 200)])
    def test_bad_size_rejected(self, empty_cache, size):
        with pytest.raises(ValueError, match="multiples of 128"):
            render_prompt("a cat", image_size=size, cache_dir=empty_cache)

    def test_bad_steps_rejected(self, empty_cache):
        with pytest.raises(ValueError, match="steps=0"):
            render_prompt("a cat", steps=0, image_size=128, cache_dir=empty_cache)


class TestLocalFiles:
    def test_weights_missing(self, empty_cache):
        assert not weights_available(empty_cache)

    def test_weights_present(self, empty_cache):
        folder = empty_cache / "datasets"
        folder.mkdir(parents=True)
        for fname, _, _ in WEIGHT_FILES.values():
            (folder / fname).write_bytes(b"placeholder")
        assert weights_available(empty_cache)
        assert not weights_available(empty_cache, verify=True)

    def test_packaged_vocabulary_hash(self):
        path = packaged_vocabulary()
        assert path is not None, "install open-clip-torch (--no-deps)"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == VOCABULARY_SHA256

    def test_install_vocabulary_copies(self, empty_cache):
        path = install_vocabulary(empty_cache)
        assert path == empty_cache / "datasets" / VOCABULARY_FILE
        assert find_vocabulary(empty_cache) == path

    def test_vocabulary_tokenizes(self, empty_cache):
        from keras_cv.models.stable_diffusion import SimpleTokenizer

        tokenizer = SimpleTokenizer(bpe_path=str(find_vocabulary(empty_cache)))
        tokens = tokenizer.encode("a red bicycle")
        assert tokens[0] == 49406  # <|startoftext|>
        assert tokens[-1] == 49407  # <|endoftext|>
        assert len(tokens) == 5


class TestOffline:
    def test_offline_raises(self, empty_cache, network_audit):
        with pytest.raises(WeightsUnavailableError) as error:
            render_prompt("a cat", steps=2, image_size=128, cache_dir=empty_cache)
        message = str(error.value)
        assert "kcv_diffusion_model.h5" in message
        assert "random_weights=True" in message
        assert "No download was attempted" in message

    def test_offline_no_connection(self, empty_cache, network_audit):
        with pytest.raises(WeightsUnavailableError):
            render_prompt("a cat", steps=2, image_size=128, cache_dir=empty_cache)
        assert network_audit == []

    def test_offline_keras_home(self, empty_cache, monkeypatch, network_audit):
        monkeypatch.setenv("KERAS_HOME", str(empty_cache))
        with pytest.raises(WeightsUnavailableError, match=re.escape(str(empty_cache))):
            render_prompt("a cat", steps=2, image_size=128)
        assert network_audit == []

    def test_audit_hook_records(self, network_audit):
        # Guards the audit itself: a loopback connection attempt must show up.
        with socket.socket() as probe:
            probe.settimeout(0.5)
            try:
                probe.connect(("127.0.0.1", 9))
            except OSError:
                pass
        assert network_audit == [("socket.connect", ("127.0.0.1", 9))]
        assert remote_events(network_audit) == []


class TestRender:
    def test_random_weights_render(self, empty_cache, network_audit):
        images, timings = render_prompt(
            "a red bicycle",
            seed=0,
            steps=2,
            image_size=128,
            batch_size=1,
            random_weights=True,
            cache_dir=empty_cache,
        )
        assert images.shape == (1, 128, 128, 3)
        assert images.dtype == np.uint8
        assert timings["seconds_per_step"] > 0
        assert timings["peak_rss_mib"] > 0
        assert remote_events(network_audit) == []
