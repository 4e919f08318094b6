"""The conversion wizard's run page: progress in words, cancel, and after a cancel the complete
TFRecords the run kept (open them, or delete them: only files this run wrote)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from ..core.progress import CancelToken, Job, Progress
from ..core.storage import storage_for
from ..core.write_report import WriteReport
from .plain import plain_label, plain_message_box
from .workers import JobWorker, TFRecordWriterJob

if TYPE_CHECKING:  # the wizard holds its pages: named for type hints only
    from .wizard import ConvertWizard


def counting_skips(job: Job[WriteReport], report: WriteReport) -> Job[WriteReport]:
    """The writer's job, its progress message carrying the skipped count as '<slide>\\t<n>'.
    Runs in the worker's thread, where the writer fills `report`: the window reads no shared list."""
    while True:
        try:
            step = next(job)
        except StopIteration as stop:
            return stop.value
        yield Progress(step.done, step.total, f"{step.message}\t{len(report.skipped)}")


def progress_text(done: int, total: int, slide: str, slide_names: list[str], skipped: int) -> str:
    """'5,064 of 100,000 images, now slide02 (3 of 40); 12 files skipped'."""
    text = f"{done:,} of {total:,} images, now {slide}"
    if slide in slide_names and len(slide_names) > 1:
        text += f" ({slide_names.index(slide) + 1} of {len(slide_names)})"
    if skipped:
        text += f"; {skipped:,} file{'s' if skipped != 1 else ''} skipped"
    return text


def remove_written_job(paths: list[str]) -> Callable[[CancelToken], Job[list[str]]]:
    """A job deleting the files a run wrote (its TFRecords and their indexes), nothing else."""

    def job(cancel: CancelToken) -> Job[list[str]]:
        removed: list[str] = []
        for i, path in enumerate(paths):
            cancel.raise_if_cancelled()
            try:
                storage_for(path).remove(path)
                removed.append(path)
            except FileNotFoundError:
                pass
            yield Progress(i + 1, len(paths), path)
        return removed

    return job


class RunPage(QWizardPage):
    """Runs the writer. A commit page: once the run has ended, Back cannot return to it from
    the result (QWizard's Back button never calls a `back()` override)."""

    finished = Signal()

    def __init__(self, wizard: "ConvertWizard") -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Converting")
        self.setSubTitle("The window stays usable; Cancel removes any partial file.")
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Show result")
        self.current = plain_label("")
        self.current.setObjectName("runProgress")
        self.current.setWordWrap(True)
        self.overall = QProgressBar()
        self.rate = plain_label("")
        self.cancel_button = QPushButton("Cancel conversion")
        self.cancel_button.clicked.connect(self.cancel)
        self.kept_label = plain_label("")
        self.kept_label.setWordWrap(True)
        self.kept = QListWidget()
        self.kept.setObjectName("keptFiles")
        self.open_kept = QPushButton("Open in viewer")
        self.open_kept.clicked.connect(self.open_kept_files)
        self.delete_kept = QPushButton("Delete them…")
        self.delete_kept.clicked.connect(self.confirm_delete)
        kept_buttons = QHBoxLayout()
        kept_buttons.addWidget(self.open_kept)
        kept_buttons.addWidget(self.delete_kept)
        kept_buttons.addStretch(1)
        self.errors = QListWidget()
        layout = QVBoxLayout(self)
        layout.addWidget(self.current)
        layout.addWidget(self.overall)
        layout.addWidget(self.rate)
        layout.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.kept_label)
        layout.addWidget(self.kept, 1)
        layout.addLayout(kept_buttons)
        layout.addWidget(plain_label("Problems:"))
        layout.addWidget(self.errors, 1)
        self.job: TFRecordWriterJob | None = None
        self.report: WriteReport | None = None
        self.live: WriteReport | None = None  # the report the writer fills; read once the job ended
        self.outcome = ""
        self.confirm_box: QMessageBox | None = None
        self._slide_names: list[str] = []
        self._writing = ""  # the slide the last progress named
        self._started = 0.0
        self._show_kept([])

    def initializePage(self) -> None:  # noqa: N802
        self.report = None
        self.outcome = ""
        self.errors.clear()
        self._show_kept([])
        self.current.setText("Starting…")
        self._writing = ""
        self.rate.setText("")
        self._started = time.monotonic()
        scan = self.owner.source_page.scan
        self._slide_names = [s.name for s in scan.slides] if scan is not None else []
        self.live = WriteReport()
        factory = self.owner.make_job(self.live)
        live = self.live
        job = TFRecordWriterJob(lambda token: counting_skips(factory(token), live), self)
        job.progress.connect(self._on_progress)
        job.result.connect(self._on_result)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        job.finished.connect(self._on_finished)
        self.job = job
        self.owner.track(job)
        self.cancel_button.setEnabled(True)
        self.overall.setRange(0, 0)
        job.start()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.current.setText("Cancelling…")

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, message: str) -> None:
        slide, _, skipped = message.rpartition("\t")
        self.overall.setRange(0, max(total, 1))
        self.overall.setValue(done)
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = done / elapsed
        left = (total - done) / rate if rate else 0
        self._writing = slide
        self.current.setText(progress_text(done, total, slide, self._slide_names, int(skipped or 0)))
        self.rate.setText(f"{rate:,.0f} images/s · about {left:,.0f} s left")

    def written_summary(self) -> str:
        """How far the run is, for the question asked before quitting: slides written when it
        converts several, else images ('7 of 40 slides written')."""
        if len(self._slide_names) > 1 and self._writing in self._slide_names:
            return f"{self._slide_names.index(self._writing):,} of {len(self._slide_names):,} slides written"
        done, total = self.overall.value(), self.overall.maximum()
        return f"{done:,} of {total:,} images written" if total > 1 else ""

    @Slot(object)
    def _on_result(self, report: WriteReport) -> None:
        self.report = report
        self.outcome = "done"

    @Slot(str, str)
    def _on_failed(self, message: str, _details: str) -> None:
        self.outcome = "failed"
        self.errors.addItem(message)

    @Slot()
    def _on_cancelled(self) -> None:
        self.outcome = "cancelled"

    @Slot()
    def _on_finished(self) -> None:
        self.cancel_button.setEnabled(False)
        self.overall.setRange(0, 1)
        if self.outcome == "done":
            self.overall.setValue(1)
            self.current.setText("Finished.")
            if self.report is not None:  # the final count, not a rate with "0 s left"
                self.rate.setText(f"{self.report.tiles:,} images in {time.monotonic() - self._started:,.1f} s")
        elif self.outcome == "failed":
            self.overall.setValue(0)
            self.current.setText("Failed: see the problems below. No partial TFRecord was left behind.")
            self._show_kept(self.kept_paths())
        elif self.outcome == "cancelled":
            during = f" while writing {self._writing}" if self._writing else ""
            self.current.setText(f"Cancelled{during}: its partial file was removed; no partial TFRecord is left behind.")
            self.rate.setText("")
            self._show_kept(self.kept_paths())
        self.job = None
        self.completeChanged.emit()
        self.finished.emit()

    # --- what a cancelled run kept ---------------------------------------------------------------
    def kept_paths(self) -> list[str]:
        """The complete TFRecords a cancelled or failed run wrote (the writer's report, read after its end)."""
        ended_early = self.outcome in ("cancelled", "failed")
        return [w.path for w in self.live.written] if self.live is not None and ended_early else []

    def _show_kept(self, paths: list[str]) -> None:
        self.kept.clear()
        self.kept.addItems(paths)
        for widget in (self.kept_label, self.kept, self.open_kept, self.delete_kept):
            widget.setVisible(bool(paths))
        if paths:
            cause = "the cancel" if self.outcome == "cancelled" else "the failure"
            self.kept_label.setText(f"{len(paths)} complete TFRecord(s) were written before {cause} and kept:")

    def open_kept_files(self) -> None:
        self.owner.open_destination()

    def confirm_delete(self) -> None:
        """Ask first (non-modal: the window stays usable); Yes deletes on a worker."""
        paths = self.kept_paths()
        box = plain_message_box(QMessageBox.Icon.Question, "Delete converted files",
                                f"Delete the {len(paths)} TFRecord(s) this run wrote, and their indexes?\n"
                                + "\n".join(paths[:10]) + ("\n…" if len(paths) > 10 else ""), self)
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(self._on_confirm)
        self.confirm_box = box
        box.open()

    @Slot(int)
    def _on_confirm(self, answer: int) -> None:
        self.confirm_box = None
        if answer != QMessageBox.StandardButton.Yes or self.live is None:
            return
        files = [p for w in self.live.written for p in (w.path, w.index_path) if p]
        job = JobWorker(remove_written_job(files), "Deleting", self)
        job.result.connect(self._on_deleted)
        job.failed.connect(self._on_failed)
        self.owner.track(job)
        self.delete_kept.setEnabled(False)
        job.start()

    @Slot(object)
    def _on_deleted(self, removed: list[str]) -> None:
        if self.live is not None:
            self.live.written.clear()
        self._show_kept([])
        self.delete_kept.setEnabled(True)
        self.current.setText(f"Cancelled; deleted {sum(p.endswith('.tfrecords') for p in removed)} TFRecord(s) "
                             "this run had written.")

    def isComplete(self) -> bool:  # noqa: N802
        return self.job is None and self.outcome == "done"
