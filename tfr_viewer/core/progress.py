"""Progress reports and cooperative cancel for long jobs.

A long job is a generator that yields `Progress` and returns its result, so the same function
serves the CLI loop, the tests and a GUI worker thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Generator, TypeVar

T = TypeVar("T")
Job = Generator["Progress", None, T]


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    message: str = ""


class Cancelled(Exception):
    """Raised inside a job when its cancel token was set."""


class CancelToken:
    """A flag another thread sets; jobs check it every few hundred records."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")


def run_job(job: Job[T], on_progress: Callable[[Progress], None] | None = None) -> T:
    """Drive a job generator to its end and return its result."""
    while True:
        try:
            report = next(job)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(report)
