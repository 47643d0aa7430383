"""Ctrl-C and SIGTERM become a stop request honoured at safe points; a second one stops now."""

from __future__ import annotations

import os
import signal

import pytest

from sweeps.signals import GracefulStop


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_first_signal_requests_a_stop_second_stops_now(sig: signal.Signals) -> None:
    stop = GracefulStop()
    before = signal.getsignal(sig)
    with stop.installed():
        stop.check()  # nothing requested yet: no exception
        os.kill(os.getpid(), sig)  # handled: only recorded, execution goes on here
        with pytest.raises(KeyboardInterrupt, match=f"stopped by signal {sig.name}"):
            stop.check()
        with pytest.raises(KeyboardInterrupt, match="second signal"):
            os.kill(os.getpid(), sig)
    assert signal.getsignal(sig) is before  # handlers are restored
    stop.check()  # and the request is cleared
