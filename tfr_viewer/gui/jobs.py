"""The job runner: every background job of the window starts, reports and ends here.

One object so that progress, Cancel/Esc, failures and shutdown treat all jobs alike, whichever
part of the window started them.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QPushButton, QStatusBar

from .errors import ErrorBridge
from .widgets.progress import StatusProgress
from .workers import JobWorker


class JobRunner(QObject):
    """Runs `JobWorker`s: progress in the status bar, failures to the error bridge, Cancel."""

    idle = Signal()  # the last running job finished

    def __init__(self, status_bar: QStatusBar, errors: ErrorBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.status_bar = status_bar
        self.errors = errors
        self._jobs: set[JobWorker] = set()
        self._progress_message = ""  # the status bar line the last progress report showed
        self._jobs_to_start: list[JobWorker] = []
        self._start_timer = QTimer(self)
        self._start_timer.setSingleShot(True)
        self._start_timer.setInterval(1)
        self._start_timer.timeout.connect(self._start_jobs)
        self.progress = StatusProgress()
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel background work (Esc)")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_all)
        status_bar.addPermanentWidget(self.progress)
        status_bar.addPermanentWidget(self.cancel_button)

    def run(self, job: JobWorker, label: str, report_failures: bool = True, after_paint: bool = False,
            quit_question: str = "") -> JobWorker:
        """Start a job; `after_paint` starts it once the window has painted what it shows now
        (a job's Python work makes the GUI thread wait for the GIL, and a first paint is long).
        A `quit_question` ("Indexing is running ({done:,} of {total:,} files indexed).") makes
        quitting ask first; `{done}` and `{total}` are the job's last progress."""
        self._jobs.add(job)
        job.label = label
        job.quit_question = quit_question
        job.last_progress = (0, 0)
        job.progress.connect(self._on_progress)
        if report_failures:
            job.failed.connect(self._on_job_failed)
        job.finished.connect(self._on_job_finished)
        self.progress.setVisible(True)
        self.progress.set_progress(0, 0, label)
        self.cancel_button.setVisible(True)
        if after_paint:
            self._jobs_to_start.append(job)
            self._start_timer.start()  # a timer fires after the event-loop pass that paints
        else:
            job.start()
        return job

    def busy(self) -> bool:
        return bool(self._jobs)

    def quit_questions(self) -> list[str]:
        """What quitting now would stop, one sentence per running job that asks first."""
        return [job.quit_question.format(done=job.last_progress[0], total=job.last_progress[1])
                for job in self._jobs if job.quit_question]

    def cancel_all(self) -> None:
        for job in list(self._jobs):
            job.cancel()
        self._start_jobs()  # jobs not started yet end at once, cancelled, like the others
        self.status_bar.showMessage("Cancelled", 3000)

    def cancel_for_shutdown(self) -> None:
        """Cancel every job; the ones not started yet never start."""
        self._start_timer.stop()
        self._jobs_to_start = []
        for job in list(self._jobs):
            job.cancel()

    def wait(self, deadline: float) -> None:
        """Wait for the running jobs until `deadline` (a `time.monotonic()` value)."""
        for job in list(self._jobs):
            job.wait(max(0, int(1000 * (deadline - time.monotonic()))))

    @Slot()
    def _start_jobs(self) -> None:
        jobs, self._jobs_to_start = self._jobs_to_start, []
        for job in jobs:
            job.start()

    @Slot(str, str)
    def _on_job_failed(self, message: str, details: str) -> None:
        self.errors.report(message, details)

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, message: str) -> None:
        job = self.sender()
        label = getattr(job, "label", "Working")
        if job in self._jobs:
            job.last_progress = (done, total)
        self.progress.set_progress(done, total, label)
        shown = self.status_bar.currentMessage()
        if message and (not shown or shown == self._progress_message):  # a result or error stays shown
            self._progress_message = f"{label}: {Path(message).name}"
            self.status_bar.showMessage(self._progress_message, 2000)

    @Slot()
    def _on_job_finished(self) -> None:
        job = self.sender()
        self._jobs.discard(job)
        if job.thread is not None:
            job.thread.wait(1000)
        if not self._jobs:
            self.progress.setVisible(False)
            self.cancel_button.setVisible(False)
            if self.status_bar.currentMessage() == self._progress_message:
                self.status_bar.clearMessage()  # progress only: a job's result message stays
            self.idle.emit()
