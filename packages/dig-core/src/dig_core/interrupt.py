"""Stop requests: SIGINT (Ctrl-C) and SIGTERM (``timeout``, batch schedulers) during ``dig generate``.

While :func:`stop_on_signals` is active, either signal only records itself; the generate driver and
the executors check :func:`requested` between pairs, so a run ends within one pair, keeps what
finished and lets its workers close their renderers (which removes their temp folders). Raising
from the handler instead would not do: a renderer rendering in this process (one worker) swallows
the ``KeyboardInterrupt``. Worker processes ignore SIGINT from their start
(:func:`sigint_ignored_by_children`, :func:`ignore_in_worker`): a Ctrl-C in a terminal reaches the
whole process group, and the driver stops them in order.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []
_active: list[bool] = []  # non-empty while stop_on_signals is active


def _record(signum: int, frame: object) -> None:
    _received.append(signum)


def requested() -> int | None:
    """The first stop signal received while :func:`stop_on_signals` is active (None: none)."""
    return _received[0] if _received else None


def received() -> int:
    """How many stop signals arrived (a second one may cut a graceful stop short)."""
    return len(_received)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Record SIGINT and SIGTERM instead of acting on them, for the ``with`` block (main thread
    only; elsewhere a no-op). The previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    previous = {s: signal.signal(s, _record) for s in STOP_SIGNALS}
    _active.append(True)
    try:
        yield
    finally:
        _active.clear()
        for s, handler in previous.items():
            signal.signal(s, handler)
        _received.clear()


def reinstall() -> None:
    """Take SIGINT and SIGTERM back after a library replaced the handlers (``ray.init`` installs
    its own SIGTERM handler, which exits at once); a no-op unless :func:`stop_on_signals` is active."""
    if _active and threading.current_thread() is threading.main_thread():
        for s in STOP_SIGNALS:
            signal.signal(s, _record)


def ignore_in_worker() -> None:
    """In a worker process: ignore SIGINT (the driver decides when workers stop)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def sigint_ignored_by_children() -> Iterator[None]:
    """Ignore SIGINT for the block (the few milliseconds it takes to start worker processes): a
    process started here inherits the ignored SIGINT through exec, so a Ctrl-C while it starts up
    (imports, before :func:`ignore_in_worker` runs) does not end it with a traceback."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
