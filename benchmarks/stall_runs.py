"""The stall targets over several runs: gui_bench and scale_bench, each without and with `--load`,
alternating (the machine's other work hits every variant alike), `--runs` times each.

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/stall_runs.py [--runs 5] [--only gui|scale]
       [--compare OTHER_TREE] [-- extra args]
Prints, per benchmark, variant and phase: the longest event-loop stall of each run, their median
and maximum (target: every one <= 50 ms), the GUI thread's longest own work (CPU) and the load
average when each run ended. Extra arguments go to both benchmarks (e.g. `--decoder processes`).
`--compare` runs these benchmarks on another checkout's `tfr_viewer` (e.g. `git worktree add
/tmp/before HEAD~5`) in turn with this one's, so both are measured alike on the same machine:
before/after figures of one run.
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
GUI_STALL = re.compile(r"longest event-loop stall while (.+?): (\d+) ms over \d+ probes"
                       r"(?: \(the GUI thread's longest work between two probes: (\d+) ms of CPU\))?")
SCALE_STALL = re.compile(r"longest event-loop stall[^:]*: (\d+) ms over \d+ probes"
                         r"(?:.*?the GUI thread's longest work between two probes: (\d+) ms of CPU)?")
LOAD = re.compile(r"load average ([\d.]+)")


def run_once(tree: Path, script: str, load: bool, extra: list[str]) -> tuple[dict[str, tuple[int, int]], float]:
    """{phase: (longest stall ms, GUI-thread CPU ms)} and the load average of one run of the
    benchmark on the tfr_viewer of `tree` (first on the path)."""
    command = [sys.executable, str(HERE / script), *(["--load"] if load else []), *extra]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    out = done.stdout
    if done.returncode:  # e.g. a crash on the way out: the figures printed before it still count
        print(f"{script}{' --load' if load else ''} on {tree} ended with code {done.returncode}: "
              f"{(done.stderr.strip().splitlines() or [''])[-1][:200]}", flush=True)
    phases: dict[str, tuple[int, int]] = {}
    if script == "gui_bench.py":
        for name, stall, cpu in GUI_STALL.findall(out):
            phases[name] = (int(stall), int(cpu or -1))
    else:
        for stall, cpu in SCALE_STALL.findall(out):
            phases["whole run (open, select, scroll, index)"] = (int(stall), int(cpu or -1))
    loads = LOAD.findall(out)
    return phases, float(loads[-1]) if loads else os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=("gui", "scale"))
    parser.add_argument("--compare", type=Path, help="another checkout to run in turn with this one")
    parser.add_argument("extra", nargs="*", help="passed on to both benchmarks")
    args = parser.parse_args()
    scripts = [s for s in ("gui_bench.py", "scale_bench.py") if not args.only or s.startswith(args.only)]
    trees = {"": HERE.parent} | ({f" [{args.compare}]": args.compare.resolve()} if args.compare else {})
    results: dict[tuple[str, str, bool], dict[str, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    loads: dict[tuple[str, str, bool], list[float]] = defaultdict(list)
    for _ in range(args.runs):
        for script in scripts:
            for load in (False, True):
                for label, tree in trees.items():
                    phases, load_average = run_once(tree, script, load, args.extra)
                    for name, figures in phases.items():
                        results[label, script, load][name].append(figures)
                    loads[label, script, load].append(load_average)
    worst = 0
    for (label, script, load), phases in sorted(results.items()):
        print(f"{script}{' --load' if load else ''}{label}: load average at the end of each run "
              f"{', '.join(f'{x:.1f}' for x in loads[label, script, load])}")
        for name, figures in phases.items():
            stalls = [s for s, _ in figures]
            worst = max(worst, max(stalls)) if not label else worst
            own = max(c for _, c in figures)
            print(f"  {name}: stalls {stalls} ms, median {statistics.median(stalls):.0f}, max {max(stalls)}"
                  + (f" (GUI thread's own work at most {own} ms of CPU)" if own >= 0 else ""))
    print(f"longest stall of all runs (this checkout): {worst} ms (target <= 50 ms)")


if __name__ == "__main__":
    main()
