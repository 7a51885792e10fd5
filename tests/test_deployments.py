"""Deployments against a real Prefect server: deploy, run by a worker, dashboard.

The module starts `prefect server start` and a static server for the pictures
on free loopback ports, deploys prefect.yaml's smoke deployment, and lets a
process worker run it once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def prefect(*args: str, env: dict, timeout: float = 120) -> str:
    result = subprocess.run(
        [str(BIN / "prefect"), *args],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"prefect {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """A Prefect server and a static artifacts server, with their environment."""
    home = tmp_path_factory.mktemp("prefect-home")
    artifacts = tmp_path_factory.mktemp("artifacts")
    api_port, static_port = free_port(), free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://127.0.0.1:{api_port}/api",
        "GENLAB_ROOT": str(REPOSITORY),
        "GENLAB_ARTIFACTS_URL": f"http://127.0.0.1:{static_port}",
    }
    log = open(home / "servers.log", "w")  # noqa: SIM115 - closed at teardown
    processes = [
        subprocess.Popen(
            [
                str(BIN / "prefect"),
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(api_port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                str(static_port),
                "--directory",
                str(artifacts),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        ),
    ]
    try:
        wait_for(f"http://127.0.0.1:{api_port}/api/health", timeout=120)
        yield {"env": env, "artifacts": artifacts, "api_port": api_port, "home": home}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def deployed_run(servers):
    """Deploy the smoke deployment, trigger it, and let a worker run it once."""
    env = servers["env"]
    prefect("work-pool", "create", "genlab-process", "--type", "process", env=env)
    prefect("--no-prompt", "deploy", "--name", "smoke", env=env, timeout=180)
    parameters = {
        "parts": ["representation"],
        "artifacts_dir": str(servers["artifacts"]),
    }
    output = prefect(
        "deployment",
        "run",
        "genlab-study/smoke",
        "--params",
        json.dumps(parameters),
        env=env,
    )
    flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", output).group(1)
    prefect(
        "worker",
        "start",
        "--pool",
        "genlab-process",
        "--run-once",
        env=env,
        timeout=600,
    )
    return flow_run_id


def api(servers, method: str, path: str, body: dict | None = None):
    url = f"http://127.0.0.1:{servers['api_port']}/api{path}"
    response = httpx.request(method, url, json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def run_artifacts(servers, flow_run_id: str) -> list[dict]:
    return api(
        servers,
        "POST",
        "/artifacts/filter",
        {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200},
    )


class TestDeployedRun:
    def test_flow_run_completed(self, servers, deployed_run):
        flow_run = api(servers, "GET", f"/flow_runs/{deployed_run}")
        if flow_run["state"]["type"] != "COMPLETED":
            logs = api(
                servers,
                "POST",
                "/logs/filter",
                {"logs": {"flow_run_id": {"any_": [deployed_run]}}, "limit": 200},
            )
            print("\n".join(entry["message"][-600:] for entry in logs))
        assert flow_run["state"]["type"] == "COMPLETED", flow_run["state"]["message"]

    def test_table_artifact(self, servers, deployed_run):
        tables = [
            a for a in run_artifacts(servers, deployed_run) if a["type"] == "table"
        ]
        assert [table["key"] for table in tables] == ["genlab-summary"]

    def test_image_artifacts(self, servers, deployed_run):
        images = [
            a for a in run_artifacts(servers, deployed_run) if a["type"] == "image"
        ]
        keys = {image["key"] for image in images}
        assert "fashion-mnist-smoke-denoising" in keys
        assert "fashion-mnist-smoke-coding-neurons" in keys

    def test_images_served(self, servers, deployed_run):
        images = [
            a for a in run_artifacts(servers, deployed_run) if a["type"] == "image"
        ]
        for image in images:
            response = httpx.get(image["data"], timeout=10)
            assert response.status_code == 200, image["data"]
            assert response.content[:4] == b"\x89PNG"

    def test_progress_artifacts(self, servers, deployed_run):
        task_runs = api(
            servers,
            "POST",
            "/task_runs/filter",
            {"flow_runs": {"id": {"any_": [deployed_run]}}, "limit": 200},
        )
        ids = [task_run["id"] for task_run in task_runs]
        progress = api(
            servers,
            "POST",
            "/artifacts/filter",
            {
                "artifacts": {
                    "type": {"any_": ["progress"]},
                    "task_run_id": {"any_": ids},
                },
                "limit": 200,
            },
        )
        assert progress, "no progress artifact"
        assert all(artifact["data"] == 100.0 for artifact in progress)

    def test_training_logs_written(self, servers, deployed_run):
        histories = list(Path(servers["artifacts"]).glob("logs/*/*/history.csv"))
        assert any("autoencoder" in str(path) for path in histories)
        assert any(Path(path.parent / "tensorboard").is_dir() for path in histories)


class TestDashboard:
    def test_pages_show_run_and_summary(self, servers, deployed_run, tmp_path):
        from playwright.sync_api import sync_playwright

        if not Path(CHROMIUM).exists():
            pytest.fail(f"{CHROMIUM} not found; run `apt-get install chromium`")

        base = f"http://127.0.0.1:{servers['api_port']}"
        flow_run = api(servers, "GET", f"/flow_runs/{deployed_run}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base}/runs/flow-run/{deployed_run}")
            page.get_by_text(flow_run["name"]).first.wait_for(timeout=60_000)
            page.screenshot(path=str(tmp_path / "flow-run.png"), full_page=True)

            page.goto(f"{base}/artifacts")
            page.get_by_text("genlab-summary").first.wait_for(timeout=60_000)
            page.screenshot(path=str(tmp_path / "artifacts.png"), full_page=True)
            browser.close()
        shutil.copy(tmp_path / "artifacts.png", servers["artifacts"] / "dashboard.png")
        assert (tmp_path / "flow-run.png").stat().st_size > 10_000
        assert (tmp_path / "artifacts.png").stat().st_size > 10_000
