"""Wall time of a cached rerun: the same `genlab run` repeated, all tasks cached.

Runs the given command `--repeats` times and prints each wall time, the
median and the range. With `--server`, it first starts a Prefect server on
127.0.0.1 (as `make server` does) and points the command at it through
PREFECT_API_URL. The runs then skip the temporary server that `genlab run`
starts otherwise. The server is stopped at the end. The cache records live
in PREFECT_HOME's local storage either way, so both modes find the same
cache.

    PREFECT_HOME=.prefect .venv/bin/python bench/rerun.py [--repeats 3] \
        [--server] -- .venv/bin/genlab run --dataset fashion_mnist --profile quick
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    prefect = Path(sys.executable).parent / "prefect"
    server = subprocess.Popen(
        [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return server, url
        except OSError:
            time.sleep(0.5)
    os.killpg(server.pid, signal.SIGTERM)
    raise SystemExit(
        f"the Prefect server timed out: {url}/health returned no 200 within 60 s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--server", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --")

    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    server = None
    if args.server:
        server, env["PREFECT_API_URL"] = start_server(env)
    else:
        env.pop("PREFECT_API_URL", None)
    try:
        seconds = []
        for repeat in range(args.repeats):
            started = time.perf_counter()
            subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
            seconds.append(time.perf_counter() - started)
            print(f"run {repeat + 1}: {seconds[-1]:.2f} s", flush=True)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait()
    mode = "running server" if args.server else "temporary server"
    print(
        f"{mode}: median {statistics.median(seconds):.2f} s "
        f"(min {min(seconds):.2f}, max {max(seconds):.2f}) over {args.repeats} runs"
    )


if __name__ == "__main__":
    main()
