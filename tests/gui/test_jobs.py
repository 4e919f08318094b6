"""The job runner on its own: progress, failures, Cancel, start after paint."""

from __future__ import annotations

import threading

from tfr_viewer.core.progress import Progress
from tfr_viewer.gui.workers import JobWorker

from .parts import parts  # noqa: F401  (fixture)


def counting_job(n: int, release: threading.Event | None = None):
    def job(token):
        if release is not None:
            release.wait(10)
        for i in range(n):
            token.raise_if_cancelled()
            yield Progress(i + 1, n, f"/data/file_{i}.tfrecords")
        return n
    return job


def failing_job(token):
    yield Progress(0, 1)
    raise ValueError("the file is cut short")


def test_a_job_shows_progress_then_hides_it_and_hands_its_result(qtbot, parts) -> None:
    jobs = parts.jobs
    results = []
    job = JobWorker(counting_job(3), "Counting", parts.host)
    job.result.connect(results.append)
    with qtbot.waitSignal(jobs.idle, timeout=10_000):
        jobs.run(job, "Counting")
        assert jobs.busy()
        assert jobs.progress.isVisibleTo(parts.host) and jobs.cancel_button.isVisibleTo(parts.host)
    assert results == [3]
    assert not jobs.busy()
    assert not jobs.progress.isVisibleTo(parts.host) and not jobs.cancel_button.isVisibleTo(parts.host)


def test_a_failure_reaches_the_error_bridge_unless_the_caller_reports_it(qtbot, parts) -> None:
    with qtbot.waitSignal(parts.jobs.idle, timeout=10_000):
        parts.jobs.run(JobWorker(failing_job, "Failing", parts.host), "Failing")
    assert len(parts.errors.history) == 1 and "cut short" in parts.errors.history[0]
    with qtbot.waitSignal(parts.jobs.idle, timeout=10_000):
        parts.jobs.run(JobWorker(failing_job, "Failing", parts.host), "Failing", report_failures=False)
    assert len(parts.errors.history) == 1


def test_a_job_after_paint_starts_from_the_event_loop_not_at_once(qtbot, parts) -> None:
    job = JobWorker(counting_job(1), "Later", parts.host)
    parts.jobs.run(job, "Later", after_paint=True)
    assert job.thread is None  # not started inside run()
    qtbot.waitUntil(lambda: not parts.jobs.busy(), timeout=10_000)
    assert job.thread is not None


def test_cancel_all_cancels_running_and_waiting_jobs(qtbot, parts) -> None:
    release = threading.Event()
    running = JobWorker(counting_job(5, release), "Running", parts.host)
    waiting = JobWorker(counting_job(5), "Waiting", parts.host)
    results, cancelled = [], []
    for job in (running, waiting):
        job.result.connect(results.append)
        job.cancelled.connect(lambda: cancelled.append(True))
    parts.jobs.run(running, "Running")
    parts.jobs.run(waiting, "Waiting", after_paint=True)
    parts.jobs.cancel_all()
    assert running.token.cancelled and waiting.token.cancelled
    assert waiting.thread is not None  # started now, to end at once as cancelled
    release.set()
    qtbot.waitUntil(lambda: not parts.jobs.busy(), timeout=10_000)
    assert results == [] and len(cancelled) == 2
    assert parts.status_bar.currentMessage() == "Cancelled"


def test_shutdown_cancels_and_never_starts_a_waiting_job(qtbot, parts) -> None:
    waiting = JobWorker(counting_job(1), "Waiting", parts.host)
    parts.jobs.run(waiting, "Waiting", after_paint=True)
    parts.jobs.cancel_for_shutdown()
    parts.jobs.cancel_all()  # would start the jobs still waiting to start
    assert waiting.thread is None and waiting.token.cancelled
