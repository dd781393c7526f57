"""The video job's loop (:mod:`tryon_sdk.video.jobs.job`): bounded blocking channels, one error channel, batching."""

from __future__ import annotations

import threading

import pytest

from tryon_sdk.video.jobs.job import Cancelled, Channel, batched, run_stages


def test_batched_takes_the_limit_from_each_batch_first_item():
    sizes = [2, 2, 2, 1, 1, 3, 3, 3, 3]  # a frame size that changes mid-stream
    got = list(batched(sizes, lambda size: 4 // size))
    assert got == [[2, 2], [2, 1], [1, 3, 3, 3], [3]]  # 4 // 2 = 2 per batch, then 4 // 1 = 4, then 4 // 3 = 1
    assert list(batched([], lambda _: 3)) == []
    assert list(batched([5, 5], lambda _: 0)) == [[5], [5]]  # at least one per batch


def test_channel_blocks_when_full_and_cancel_wakes_the_producer():
    ch: Channel[int] = Channel(2)
    ch.put(1)
    ch.put(2)
    outcome: list[str] = []

    def produce() -> None:
        try:
            ch.put(3)  # full: waits
            outcome.append("put")
        except Cancelled:
            outcome.append("cancelled")

    t = threading.Thread(target=produce)
    t.start()
    t.join(0.2)
    assert t.is_alive() and outcome == []  # still waiting for room
    ch.cancel()
    t.join(5)
    assert outcome == ["cancelled"]


def test_channel_ends_after_close_with_the_items_left():
    ch: Channel[int] = Channel(3)
    for i in range(3):
        ch.put(i)
    ch.close()
    assert list(ch) == [0, 1, 2]


def _double(items):
    for x in items:
        yield 2 * x


def test_stages_run_in_order_and_the_sink_sees_everything():
    seen: list[int] = []

    def sink(items):
        for x in items:
            seen.append(x)
            yield None

    run_stages(range(50), [_double, _double, sink], [2, 1, 3])
    assert seen == [4 * i for i in range(50)]


def test_a_failing_stage_stops_the_job_and_its_error_reaches_the_caller():
    closed: list[str] = []

    def source():
        try:
            yield from range(10_000)
        finally:
            closed.append("source")  # the decoder's container is closed in its own thread

    def fail_at_7(items):
        for x in items:
            if x == 7:
                raise ValueError("frame 7 is bad")
            yield x

    def sink(items):
        for _ in items:
            yield None

    with pytest.raises(ValueError, match="frame 7"):
        run_stages(source(), [fail_at_7, _double, sink], [1, 1, 1], name="jobtest")
    assert closed == ["source"]
    assert not [t for t in threading.enumerate() if t.name.startswith("jobtest-")]


def test_ctrl_c_in_the_sink_stops_every_stage():
    started = threading.Event()

    def endless(items):
        for x in items:
            started.set()
            yield x

    def sink(items):
        for x in items:
            if x == 3:
                raise KeyboardInterrupt
            yield None

    def forever():
        i = 0
        while True:
            yield i
            i += 1

    with pytest.raises(KeyboardInterrupt):
        run_stages(forever(), [endless, sink], [2, 2], name="jobtest")
    assert started.is_set()
    assert not [t for t in threading.enumerate() if t.name.startswith("jobtest-")]
