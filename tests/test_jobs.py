"""iterate_job: progress from a worker thread, stopping, and coalesced progress for pages."""

import threading
import time

import pytest

from playground.jobs import iterate_job

pytestmark = pytest.mark.concurrency


def counting_work(n: int, pause: float):
    def work(report, stop: threading.Event):
        for i in range(1, n + 1):
            if stop.is_set():
                return f"stopped at {i}"
            report(i)
            time.sleep(pause)
        return "finished"

    return work


def test_every_progress_value_then_the_result():
    events = list(iterate_job(counting_work(20, 0.001)))
    assert events == [("progress", i) for i in range(1, 21)] + [("done", "finished")]


def test_latest_every_sends_at_most_one_update_per_interval_and_the_newest_value():
    stamps, values = [], []
    for kind, value in iterate_job(counting_work(100, 0.01), latest_every=0.25):
        if kind == "progress":
            stamps.append(time.monotonic())
            values.append(value)
        else:
            assert value == "finished"
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert 2 <= len(values) <= 6, values  # about 1.1 s of work at 4 a second, the first after 0.25 s
    assert min(gaps) >= 0.24
    assert values == sorted(values) and values[-1] >= 70  # the newest value each time, not the queue's oldest


def test_closing_the_iterator_stops_the_work():
    before = set(threading.enumerate())
    events = iterate_job(counting_work(1000, 0.01))
    assert next(events) == ("progress", 1)
    (worker,) = [t for t in threading.enumerate() if t not in before and t.name == "playground-job"]
    events.close()
    worker.join(timeout=1)
    assert not worker.is_alive()


def test_latest_every_sends_nothing_for_work_shorter_than_the_interval():
    events = list(iterate_job(counting_work(10, 0.005), latest_every=0.25))
    assert events == [("done", "finished")]


def test_a_slow_reader_does_not_stop_the_work():
    """A reader that leaves progress unread for seconds (Gradio on a saturated machine) is not a cancel:
    the work runs to its end. Only closing the iterator stops it."""
    events = iterate_job(counting_work(300, 0.01))  # about 3 s of work, reporting all along
    seen = []
    for kind, value in events:
        if kind == "progress":
            seen.append(value)
            if len(seen) == 2:
                time.sleep(1.5)  # longer than any timing guess of "the reader has gone"
        else:
            assert value == "finished"
    assert seen == list(range(1, 301))
