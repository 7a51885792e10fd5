"""Wall time per task of the newest genlab-study flow run, from Prefect's API.

Reads the run's task runs from the Prefect server (or, with no
PREFECT_API_URL, the temporary server over PREFECT_HOME's database, the one
`genlab run` used), groups them by task name, and prints a markdown table:
count, summed run time, longest single run. Saves a bar chart of the summed
times. Task runs overlap (two worker threads), so the sums add up to more
than the flow's wall time.

    PREFECT_HOME=.prefect .venv/bin/python bench/task_times.py \
        [--flow-run NAME] [--chart docs/task_times.png]
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from prefect.client.orchestration import get_client  # noqa: E402
from prefect.client.schemas.filters import (  # noqa: E402
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterName,
)
from prefect.client.schemas.sorting import FlowRunSort  # noqa: E402


async def task_seconds(flow_run_name: str | None) -> tuple[str, dict, float]:
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["genlab-study"])),
            flow_run_filter=(
                FlowRunFilter(name=FlowRunFilterName(any_=[flow_run_name]))
                if flow_run_name
                else None
            ),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
        if not runs:
            raise SystemExit("no genlab-study flow run found on this Prefect server")
        run = runs[0]
        tasks = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
        )
    times: dict[str, list[float]] = defaultdict(list)
    for task in tasks:
        # Prefect names each run "<task name>-<3-character suffix>".
        times[task.name.rsplit("-", 1)[0]].append(task.total_run_time.total_seconds())
    return run.name, times, run.total_run_time.total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flow-run", help="flow run name (default: the newest)")
    parser.add_argument("--chart", default="docs/task_times.png")
    args = parser.parse_args()

    name, times, flow_seconds = asyncio.run(task_seconds(args.flow_run))
    rows = sorted(times.items(), key=lambda item: sum(item[1]), reverse=True)
    print(f"flow run {name}: {flow_seconds:.0f} s wall time\n")
    print("| task | runs | summed seconds | longest run (s) |")
    print("|---|---|---|---|")
    for task, seconds in rows:
        print(f"| {task} | {len(seconds)} | {sum(seconds):.1f} | {max(seconds):.1f} |")

    figure, axes = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.2))
    axes.barh([task for task, _ in rows], [sum(s) for _, s in rows], color="tab:green")
    axes.invert_yaxis()
    axes.set_xlabel("seconds, summed over the task's runs")
    axes.set_title(f"Wall time per task, flow run {name} ({flow_seconds:.0f} s)")
    figure.tight_layout()
    Path(args.chart).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.chart, dpi=100)
    print(f"\nchart: {args.chart}")


if __name__ == "__main__":
    main()
