"""Executors yield results in item order whatever the number of workers; registration by name."""

from __future__ import annotations

import functools
import os

import pytest
from dig_core import hookimpl
from dig_core.config import load_config
from dig_core.errors import PluginError
from dig_core.generate.executors import Executor, LocalExecutor
from dig_core.plugins import get_plugin_manager


class SlowSquare:
    """A worker whose later items finish first, so an unordered executor would be caught."""

    def __init__(self, tag: str):
        self.tag = tag
        self.pid = os.getpid()

    def make(self, item: int):
        import time

        time.sleep(0.02 * (5 - item % 5))
        return (item, item * item, self.tag, self.pid)


@pytest.mark.parametrize("workers", [1, 2])
def test_local_executor_keeps_item_order(workers):
    out = list(LocalExecutor().map(functools.partial(SlowSquare, "t"), range(10), workers))
    assert [o[:3] for o in out] == [(i, i * i, "t") for i in range(10)]
    pids = {o[3] for o in out}
    assert (pids == {os.getpid()}) if workers == 1 else (os.getpid() not in pids)


class Closing:
    """A worker that leaves a file per process when closed (as a renderer removes its temp folder)."""

    def __init__(self, folder: str):
        self.folder = folder

    def make(self, item: int):
        return os.getpid()

    def close(self):
        open(os.path.join(self.folder, f"closed-{os.getpid()}"), "w").close()


@pytest.mark.parametrize("workers", [1, 2])
def test_local_executor_closes_every_worker(tmp_path, workers):
    pids = set(LocalExecutor().map(functools.partial(Closing, str(tmp_path)), range(6), workers))
    closed = {p.name for p in tmp_path.iterdir()}
    assert len(closed) == workers  # every worker process, whether it got items or not
    assert {f"closed-{pid}" for pid in pids} <= closed


class BrokenWorker:
    """A worker that cannot be built (e.g. a plugin that fails to import in the worker process)."""

    def __init__(self):
        raise PluginError("could not load plugin 'x': ModuleNotFoundError: No module named 'x'")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_that_cannot_be_built_stops_the_run_with_its_error(workers):
    # a process pool replaces a worker whose initializer raised, endlessly: the error must come back
    with pytest.raises(PluginError, match="could not load plugin 'x'"):
        list(LocalExecutor().map(BrokenWorker, range(4), workers))


def test_local_executor_with_no_items():
    assert list(LocalExecutor().map(functools.partial(SlowSquare, "t"), [], 2)) == []


class Taken:
    """A long lazy item stream that counts how many items were taken from it."""

    def __init__(self, n: int):
        self.n, self.taken = n, 0

    def __iter__(self):
        for i in range(self.n):
            self.taken += 1
            yield i


def _first_results(executor, factory, workers: int, n: int = 3):
    items = Taken(10**6)
    results = executor.map(factory, items, workers)
    try:
        got = [next(results)[:3] for _ in range(n)]
    finally:
        results.close()
    return got, items.taken


@pytest.mark.parametrize("workers", [1, 2])
def test_local_executor_takes_items_as_it_needs_them(workers):
    """A million-pair plan is never listed: the first results come after a few items were taken."""
    got, taken = _first_results(LocalExecutor(), functools.partial(SlowSquare, "t"), workers)
    assert got == [(i, i * i, "t") for i in range(3)]
    assert taken <= 3 + 2 * workers


@pytest.mark.ray
def test_ray_executor_keeps_item_order():
    pytest.importorskip("ray")  # dig-core[ray]: installed in CI's test env
    from dig_core.generate.executors import RayExecutor

    out = list(RayExecutor().map(functools.partial(SlowSquare, "r"), range(6), 2))
    assert [o[:3] for o in out] == [(i, i * i, "r") for i in range(6)]
    assert len({o[3] for o in out}) == 2  # two actors, two processes



@pytest.mark.ray
def test_ray_executor_closes_every_actor_worker(tmp_path):
    pytest.importorskip("ray")
    from dig_core.generate.executors import RayExecutor

    pids = set(RayExecutor().map(functools.partial(Closing, str(tmp_path)), range(6), 2))
    assert {p.name for p in tmp_path.iterdir()} == {f"closed-{pid}" for pid in pids} and len(pids) == 2


@pytest.mark.ray
def test_ray_executor_takes_items_as_it_needs_them():
    pytest.importorskip("ray")
    from dig_core.generate.executors import RayExecutor

    got, taken = _first_results(RayExecutor(), functools.partial(SlowSquare, "r"), 2)
    assert got == [(i, i * i, "r") for i in range(3)]
    assert taken <= 3 + 2 * 2 + 1


class InlineExecutor(Executor):
    PLUGIN_NAME = "inline-test"

    def map(self, factory, items, workers):
        w = factory()
        return (w.make(i) for i in items)


class InlinePlugin:
    @hookimpl
    def register_executors(self):
        return [InlineExecutor]


def test_a_registered_executor_is_selectable():
    pm = get_plugin_manager()
    pm.register(InlinePlugin(), "inline-test-plugin")
    try:
        cfg = load_config(None, ["generate.executor=inline-test"], sections=())
        ex = pm.get("executor", cfg.generate.executor)(cfg.generate)
        assert [o[1] for o in ex.map(functools.partial(SlowSquare, "i"), [2, 3], 1)] == [4, 9]
    finally:
        pm.unregister("inline-test-plugin")
    assert "inline-test" not in pm.available("executor")


def test_the_old_import_path_is_the_module():
    import dig_core.executors
    import dig_core.generate.executors

    assert dig_core.executors is dig_core.generate.executors
    from dig_core.executors import LocalExecutor as Old  # what third-party code imports

    assert Old is LocalExecutor
