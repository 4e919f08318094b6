"""A real Dask cluster for tests and benchmarks: `dask scheduler` and `dask worker` processes on
free localhost ports (each worker one process, one thread)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ..remote.s3_server import free_port


class DaskCluster:
    """A scheduler and `workers` worker processes; `kill_worker(i)` ends one as a crash would."""

    def __init__(self, workers: int = 2) -> None:
        dask = str(Path(sys.executable).with_name("dask"))
        port = free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.scheduler = subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet)
        self.workers = [
            subprocess.Popen([dask, "worker", self.address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                              "--no-nanny", "--host", "127.0.0.1"], **quiet)
            for _ in range(workers)
        ]
        from distributed import Client

        try:
            with Client(self.address, timeout=30) as client:
                client.wait_for_workers(workers, timeout=60)
        except BaseException:
            self.stop()
            raise

    def kill_worker(self, i: int) -> None:
        os.kill(self.workers[i].pid, signal.SIGKILL)
        self.workers[i].wait(timeout=10)

    def stop(self) -> None:
        for process in self.workers + [self.scheduler]:
            if process.poll() is None:
                process.terminate()
        for process in self.workers + [self.scheduler]:
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:  # a worker waits for its scheduler: no need
                process.kill()
                process.wait()
