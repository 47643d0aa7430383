"""Workers started before their orders: they wait, take orders, or leave without a trace."""

from __future__ import annotations

from sweeps.runner import children


def test_a_worker_without_orders_exits_quietly() -> None:
    proc = children.start()
    assert proc.stdin is not None
    proc.stdin.close()  # the coordinator stopped before it had orders to give
    assert proc.wait(timeout=120) == 0


def test_dismiss_stops_only_the_workers_never_given_orders() -> None:
    waiting, ordered = children.start(), children.start()
    children.send(ordered, "")  # orders sent (empty here: it exits as soon as it reads them)
    children.dismiss([waiting, ordered])
    assert waiting.poll() is not None  # stopped at once, mid-import
    assert ordered.wait(timeout=120) == 0  # left alone: it finished on its own
