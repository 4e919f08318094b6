"""What held the GUI thread while the event loop stalled: a sampler of its Python stack.

`StallSampler` runs a thread that looks every few ms at when the event-loop probe last ran;
while that is more than `limit_ms` ago, it samples the GUI thread's Python stack
(`sys._current_frames`) and counts the innermost frames of the project (or the benchmark's own
frame, meaning Qt's C++ work: layout, painting, a signal's delivery). A sample counts only when
the GUI thread used the CPU since the previous one (its own CPU clock): on a loaded machine
most of a stall is waiting for a core, and that is nobody's code. Sampling costs the GUI
thread nothing but the sampler's share of the GIL (a profiler slowed every call several times
and changed what it measured).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter, defaultdict
from typing import Callable

OWN_CODE = ("/tfr_viewer/",)


class StallSampler:
    def __init__(self, last_tick: Callable[[], float], limit_ms: float = 20.0, every_ms: float = 4.0) -> None:
        """`last_tick()`: perf_counter seconds of the probe's last run on the GUI thread."""
        self.last_tick, self.limit, self.every = last_tick, limit_ms / 1000, every_ms / 1000
        self.phase = ""
        self.samples: dict[str, Counter] = defaultdict(Counter)
        self._gui = threading.get_ident()
        self._gui_clock = time.pthread_getcpuclockid(self._gui)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        cpu = time.clock_gettime(self._gui_clock)
        while not self._stop.wait(self.every):
            before, cpu = cpu, time.clock_gettime(self._gui_clock)
            if self.phase and time.perf_counter() - self.last_tick() > self.limit and cpu - before > self.every / 2:
                frame = sys._current_frames().get(self._gui)
                if frame is not None:
                    self.samples[self.phase][self._where(frame)] += 1

    @staticmethod
    def _where(frame) -> str:
        innermost, names = frame, []
        while frame is not None and len(names) < 3:
            code = frame.f_code
            if any(part in code.co_filename for part in OWN_CODE):
                names.append(f"{code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno} {code.co_name}")
            frame = frame.f_back
        if names:
            return " < ".join(names)
        return f"Qt, called from {innermost.f_code.co_name}:{innermost.f_lineno} (no project code on the stack)"

    def report(self) -> str:
        lines = []
        for phase, counts in self.samples.items():
            for where, n in counts.most_common(5):
                lines.append(f"  {phase}: {n * self.every * 1000:.0f} ms in {where}")
        return (f"where the GUI thread worked during stalls over {self.limit * 1000:.0f} ms (sampled while it ran):\n"
                + ("\n".join(lines) if lines else "  none"))
