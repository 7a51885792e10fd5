"""Peak memory of a command and every process it starts (Linux /proc).

Runs the command and, every `--interval` seconds, reads each process of its
tree: VmHWM (the kernel's own peak resident size of that process) and the
proportional set size from smaps_rollup (shared pages split between the
processes that share them, so the sum over the tree does not count a library
twice). Prints the peak VmHWM per command line, the largest tree-wide PSS
sum seen, and writes the time line to `--csv`.

    .venv/bin/python bench/memory.py [--csv memory.csv] -- COMMAND [ARGS...]

The exit status is the command's.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue += children_of(current)
    return pids


def read_kib(path: Path, field: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0")[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", help="write seconds, tree PSS (MiB) per sample")
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --")

    started = time.perf_counter()
    process = subprocess.Popen(command)
    peaks: dict[int, tuple[int, str]] = {}
    timeline = []
    while process.poll() is None:
        pss_total = 0
        for pid in tree(process.pid):
            hwm = read_kib(Path(f"/proc/{pid}/status"), "VmHWM")
            if hwm is not None and hwm > peaks.get(pid, (0, ""))[0]:
                peaks[pid] = (hwm, command_line(pid))
            pss_total += read_kib(Path(f"/proc/{pid}/smaps_rollup"), "Pss") or 0
        timeline.append((time.perf_counter() - started, pss_total / 1024))
        time.sleep(args.interval)
    seconds = time.perf_counter() - started

    if args.csv:
        with open(args.csv, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["seconds", "tree_pss_mib"])
            writer.writerows((f"{s:.1f}", f"{m:.0f}") for s, m in timeline)
    print(
        f"wall time {seconds:.1f} s, exit status {process.returncode}", file=sys.stderr
    )
    for hwm, name in sorted(peaks.values(), reverse=True)[:5]:
        print(f"peak RSS {hwm / 1024:8.0f} MiB  {name}", file=sys.stderr)
    peak_pss = max((mib for _, mib in timeline), default=0.0)
    print(f"peak tree PSS {peak_pss:.0f} MiB", file=sys.stderr)
    sys.exit(process.returncode)


if __name__ == "__main__":
    main()
