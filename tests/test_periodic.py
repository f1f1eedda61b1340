"""The periodic worker behind the battery monitor, the status display, the notebook heartbeat and
the simulator's real-time thread."""

import logging
import threading
import time

import pytest

from jetracer.util.periodic import Periodic


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.002)
    return predicate()


def threads_named(name):
    return [t for t in threading.enumerate() if t.name == name]


def test_calls_in_a_named_daemon_thread_until_stopped_and_then_never_again():
    calls = []
    worker = Periodic("test-worker", lambda: calls.append(threading.current_thread()), 0.005).start()
    assert wait_for(lambda: len(calls) >= 3)
    assert calls[0].name == "test-worker" and calls[0].daemon and calls[0] is not threading.current_thread()
    worker.stop()
    assert not worker.running and not threads_named("test-worker")
    n = len(calls)
    time.sleep(0.03)
    assert len(calls) == n
    worker.stop()  # idempotent


def test_a_failing_call_is_logged_once_per_streak_and_the_calls_go_on(caplog):
    state = {"fail": True, "calls": 0}

    def fn():
        state["calls"] += 1
        if state["fail"]:
            raise OSError("no acknowledge")

    worker = Periodic("flaky", fn, 0.002, what="flaky chip", expected=(OSError,))
    with caplog.at_level(logging.DEBUG, logger="jetracer.util.periodic"):
        worker.start()
        assert wait_for(lambda: state["calls"] >= 10)
        assert worker.last_error == "OSError: no acknowledge"
        state["fail"] = False
        assert wait_for(lambda: worker.last_error == "")
        worker.stop()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "no acknowledge" in warnings[0].getMessage()
    assert warnings[0].exc_info is None  # an expected error is one line
    assert any(r.getMessage() == "flaky chip works again" for r in caplog.records)
    assert worker.failures >= 9


def test_an_unexpected_error_keeps_its_traceback(caplog):
    calls = []

    def fn():
        calls.append(1)
        raise ZeroDivisionError("bug")

    worker = Periodic("buggy", fn, 0.002)
    with caplog.at_level(logging.WARNING, logger="jetracer.util.periodic"):
        worker.start()
        assert wait_for(lambda: len(calls) >= 3)
        worker.stop()
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1 and errors[0].exc_info is not None


def test_stop_from_inside_the_call_does_not_deadlock():
    box = {}

    def fn():
        box["worker"].stop()
        box["stopped_inside"] = True

    box["worker"] = Periodic("self-stopping", fn, 0.002)
    box["worker"].start()
    assert wait_for(lambda: box.get("stopped_inside"))
    assert wait_for(lambda: not threads_named("self-stopping"))


def test_start_again_after_stop_and_start_twice_is_one_thread():
    calls = []
    worker = Periodic("restartable", lambda: calls.append(1), 0.002)
    worker.start()
    worker.start()
    assert wait_for(lambda: len(calls) >= 2)
    assert len(threads_named("restartable")) == 1
    worker.stop()
    n = len(calls)
    worker.start()
    assert wait_for(lambda: len(calls) > n)
    worker.stop()
    assert not threads_named("restartable")


def test_call_first_calls_at_once_and_otherwise_after_one_period():
    first, later = [], []
    a = Periodic("now", lambda: first.append(1), 60.0, call_first=True).start()
    b = Periodic("later", lambda: later.append(1), 60.0).start()
    assert wait_for(lambda: first)
    time.sleep(0.02)
    a.stop()
    b.stop()  # wakes the 60 s wait at once
    assert first == [1] and later == []


def test_run_in_the_calling_thread_ends_on_stop_and_on_the_event():
    calls = []
    worker = Periodic("foreground", lambda: calls.append(threading.current_thread()), 0.002)
    threading.Timer(0.05, worker.stop).start()
    worker.run()
    assert calls and all(t is threading.current_thread() for t in calls)
    event = threading.Event()
    threading.Timer(0.05, event.set).start()
    Periodic("foreground", lambda: None, 0.002).run(event)  # returns: the event ended it


def test_a_hung_call_is_reported_not_waited_for_forever(caplog):
    release = threading.Event()
    entered = threading.Event()

    def fn():
        entered.set()
        release.wait(10.0)

    worker = Periodic("hung", fn, 0.001, call_first=True, join_timeout_s=0.05)
    with caplog.at_level(logging.WARNING, logger="jetracer.util.periodic"):
        worker.start()
        assert entered.wait(5.0)
        t0 = time.monotonic()
        worker.stop()
        assert time.monotonic() - t0 < 2.0
    release.set()
    assert any("did not stop" in r.getMessage() for r in caplog.records)
    assert wait_for(lambda: not threads_named("hung"))  # it ends once the call returns


@pytest.mark.parametrize("period", [0, -1, float("nan"), float("inf"), "x"])
def test_a_bad_fixed_period_is_refused(period):
    with pytest.raises(ValueError):
        Periodic("bad", lambda: None, period)


def test_a_callable_period_that_misbehaves_neither_spins_nor_kills_the_worker():
    calls = []
    answers = iter([float("nan"), -5.0, float("inf")])

    def period():
        try:
            return next(answers)
        except StopIteration:
            raise RuntimeError("broken period") from None

    worker = Periodic("odd-period", lambda: calls.append(1), period)
    worker.start()
    time.sleep(0.05)
    assert worker.running
    worker.stop()
    assert not worker.running


def test_run_in_the_foreground_while_the_thread_runs_is_refused():
    worker = Periodic("busy", lambda: None, 0.01).start()
    try:
        with pytest.raises(RuntimeError):
            worker.run()
    finally:
        worker.stop()
