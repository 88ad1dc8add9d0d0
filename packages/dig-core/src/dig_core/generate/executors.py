"""Executors run generation work items: ``local`` (processes on this machine) and ``ray``.

An executor gets a picklable ``factory`` that builds a worker (an object with ``make(item)``) once
per worker process, and yields results **in item order**, whatever the number of workers. The items
are an iterable that may be lazy (``dig generate`` makes each item when it is taken) and as long as
a million pairs: take them as they are needed, never ``list()`` them. It starts
no new item once :func:`dig_core.interrupt.requested` (SIGINT / SIGTERM), and when its generator is
closed it lets the workers finish the item they hold and close (a renderer removes its temp folder).
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import multiprocessing.util
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from dig_core import hookimpl, interrupt
from dig_core.plugins.base import Plugin

_worker: Any = None
_init_error: Exception | None = None


def _init_worker(factory: Callable[[], Any]) -> None:
    global _worker, _init_error
    interrupt.ignore_in_worker()
    try:
        _worker = factory()
    except Exception as e:  # noqa: BLE001 - a pool replaces a worker whose initializer raised, forever:
        _init_error = e     # keep the error and raise it from the first item, so the run stops with it
        return
    # runs when the pool process exits normally (after pool.close() + join()): the worker's close()
    # removes what it holds (e.g. a renderer's temp folder)
    multiprocessing.util.Finalize(None, _close_worker, exitpriority=10)


def close_worker(worker: Any) -> None:
    """Call the worker's ``close()`` if it has one (a renderer removes its temp folder there)."""
    close = getattr(worker, "close", None)
    if close:
        close()


def _close_worker() -> None:
    close_worker(_worker)


def _run_item(item: Any) -> Any:
    if _init_error is not None:
        raise _init_error
    return _worker.make(item)


class Executor(Plugin):
    """Base class of executor plugins (``generate.executor``). ``settings`` is the ``generate``
    config section."""

    def __init__(self, settings: Any = None):
        super().__init__(None)
        self.settings = settings

    def map(self, factory: Callable[[], Any], items: Iterable[Any], workers: int) -> Iterator[Any]:
        """The results of ``items`` (an iterable, possibly lazy: take items as they are needed)
        in item order, from ``workers`` workers."""
        raise NotImplementedError(f"{type(self).__name__} must implement map()")


class LocalExecutor(Executor):
    """One worker in this process (workers=1) or a pool of spawned worker processes."""

    PLUGIN_NAME = "local"

    def map(self, factory, items, workers):
        first, items = peek(items, workers)
        if not first:
            return
        if workers <= 1:
            worker = factory()
            try:
                for item in items:
                    if interrupt.requested():
                        return
                    yield worker.make(item)
            finally:
                close_worker(worker)
            return
        yield from _pool_map(factory, items, min(workers, len(first)))


def peek(items: Iterable[Any], n: int) -> tuple[list[Any], Iterator[Any]]:
    """``(the first n items (at least one), all the items)``, taking no more than that from
    ``items``: how many workers are worth starting, without listing a lazy plan."""
    it = iter(items)
    first = list(itertools.islice(it, max(1, n)))
    return first, itertools.chain(first, it)


def _pool_map(factory: Callable[[], Any], items: Iterable[Any], workers: int) -> Iterator[Any]:
    """Results of ``items`` in order from ``workers`` spawned processes, each holding at most one
    item, so a stop (a stop signal, or the caller closing this generator) waits for at most one item
    per worker before the workers exit normally (each one's close() runs). A second stop signal
    while waiting terminates them instead."""
    ctx = mp.get_context("spawn")  # never fork a process that may hold a renderer
    with interrupt.sigint_ignored_by_children():
        pool = ctx.Pool(workers, initializer=_init_worker, initargs=(factory,))
    pending: deque = deque()
    todo = iter(items)
    finished = threading.Event()  # set whenever an item finishes: a worker is free, or the head is ready

    def on_finish(_: Any) -> None:
        finished.set()

    try:
        while True:
            finished.clear()
            while not interrupt.requested() and sum(not r.ready() for r in pending) < workers:
                item = next(todo, _END)
                if item is _END:
                    break
                pending.append(pool.apply_async(_run_item, (item,), callback=on_finish, error_callback=on_finish))
            if not pending:
                return
            if pending[0].ready():
                yield pending.popleft().get()
            else:
                finished.wait(0.2)  # the timeout: a stop signal is seen even while nothing finishes
    finally:
        while pending and interrupt.received() < 2:
            pending[0].wait(0.2)
            if pending[0].ready():
                pending.popleft()
        if pending:
            pool.terminate()
        else:
            pool.close()  # let the workers exit normally, so each one's close() runs
        pool.join()


_END = object()


class _RayWorker:
    def __init__(self, factory):
        self.worker = factory()

    def make(self, item):
        return self.worker.make(item)

    def close(self) -> None:
        close_worker(self.worker)


class RayExecutor(Executor):
    """Workers as Ray actors. Connects to ``generate.ray_address`` or starts a local instance bound
    to loopback (and shuts it down afterwards)."""

    PLUGIN_NAME = "ray"

    def map(self, factory, items, workers):
        try:
            import ray
            from ray.util import ActorPool
        except ImportError:
            from dig_core.errors import DigError

            raise DigError("generate.executor=ray needs Ray: pip install 'dig-core[ray]'") from None
        first, items = peek(items, workers)
        if not first:
            return
        started = False
        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            address = getattr(self.settings, "ray_address", None)
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False,
                         _node_ip_address="127.0.0.1", log_to_driver=False)
            started = True
        interrupt.reinstall()  # ray.init replaces the SIGTERM handler with one that exits at once
        actors = []
        try:
            actor_cls = ray.remote(num_cpus=0)(_RayWorker)
            actors = [actor_cls.remote(factory) for _ in range(len(first))]
            pool = ActorPool(actors)  # its map() would submit every item at once: submit as results come

            def submit(n: int) -> None:
                for item in itertools.islice(items, n):
                    pool.submit(lambda a, it: a.make.remote(it), item)

            submit(2 * len(actors))  # a window of queued items keeps every actor busy while the head is slow
            while pool.has_next():
                yield pool.get_next()
                if interrupt.requested():
                    return
                submit(1)
        finally:
            try:  # each actor closes its worker before it is killed; a dead or stuck one is killed anyway
                ray.get([a.close.remote() for a in actors], timeout=120)
            except ray.exceptions.RayError:
                pass
            for a in actors:
                ray.kill(a)
            if started:
                ray.shutdown()


@hookimpl
def register_executors():
    return [LocalExecutor, RayExecutor]
