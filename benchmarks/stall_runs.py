"""The stall targets over several runs: gui_bench and scale_bench, each without and with `--load`,
alternating (the machine's other work hits every variant alike), `--runs` times each.

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/stall_runs.py [--runs 5] [--only gui|scale] [-- extra args]
Prints, per benchmark, variant and phase: the longest event-loop stall of each run, their median
and maximum (target: every one <= 50 ms), the GUI thread's longest own work (CPU) and the load
average when each run ended. Extra arguments go to both benchmarks (e.g. `--decoder processes`).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
GUI_STALL = re.compile(r"longest event-loop stall while (.+?): (\d+) ms over \d+ probes "
                       r"\(the GUI thread's longest work between two probes: (\d+) ms of CPU\)")
SCALE_STALL = re.compile(r"longest event-loop stall.*?: (\d+) ms over .*?the GUI thread's longest work between two "
                         r"probes: (\d+) ms of CPU; load average ([\d.]+)")
LOAD = re.compile(r"load average ([\d.]+)")


def run_once(script: str, load: bool, extra: list[str]) -> tuple[dict[str, tuple[int, int]], float]:
    """{phase: (longest stall ms, GUI-thread CPU ms)} and the load average of one run."""
    command = [sys.executable, str(HERE / script), *(["--load"] if load else []), *extra]
    out = subprocess.run(command, capture_output=True, text=True, check=True,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}).stdout
    phases: dict[str, tuple[int, int]] = {}
    if script == "gui_bench.py":
        for name, stall, cpu in GUI_STALL.findall(out):
            phases[name] = (int(stall), int(cpu))
    else:
        for stall, cpu, _ in SCALE_STALL.findall(out):
            phases["whole run (open, select, scroll, index)"] = (int(stall), int(cpu))
    loads = LOAD.findall(out)
    return phases, float(loads[-1]) if loads else os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=("gui", "scale"))
    parser.add_argument("extra", nargs="*", help="passed on to both benchmarks")
    args = parser.parse_args()
    scripts = [s for s in ("gui_bench.py", "scale_bench.py") if not args.only or s.startswith(args.only)]
    results: dict[tuple[str, bool], dict[str, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    loads: dict[tuple[str, bool], list[float]] = defaultdict(list)
    for _ in range(args.runs):
        for script in scripts:
            for load in (False, True):
                phases, load_average = run_once(script, load, args.extra)
                for name, figures in phases.items():
                    results[script, load][name].append(figures)
                loads[script, load].append(load_average)
    worst = 0
    for (script, load), phases in results.items():
        print(f"{script}{' --load' if load else ''}: load average at the end of each run "
              f"{', '.join(f'{x:.1f}' for x in loads[script, load])}")
        for name, figures in phases.items():
            stalls = [s for s, _ in figures]
            worst = max(worst, max(stalls))
            print(f"  {name}: stalls {stalls} ms, median {statistics.median(stalls):.0f}, max {max(stalls)} "
                  f"(GUI thread's own work at most {max(c for _, c in figures)} ms of CPU)")
    print(f"longest stall of all runs: {worst} ms (target <= 50 ms)")


if __name__ == "__main__":
    main()
