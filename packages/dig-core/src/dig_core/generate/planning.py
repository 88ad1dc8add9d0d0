"""The plan: one :class:`WorkItem` per pair a config asks for (id, stage, K range, seed derived from
the config seed, the stage and the index, and ``seed_namespace`` when set), in dataset order, each
made when it is read (:class:`Plan`)."""

from __future__ import annotations

import bisect
import functools
import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dig_core.seeds import derive_seed


@dataclass(frozen=True)
class WorkItem:
    index: int
    id: str
    stage: str
    k_min: int
    k_max: int
    count_in_prompt: bool
    seed: int
    #: K planned for this pair (-1: drawn while sampling edits, the ``feasible`` balance)
    k: int = -1
    #: edit types planned for this pair by the stage's quota (``quota`` balance)
    types: tuple[str, ...] = ()


def pair_seed(cfg: DictConfig, stage: str, index: int | str) -> int:
    """The seed of pair ``index`` of ``stage``. A non-empty
    ``seed_namespace`` is mixed in, so a held-out set (configs/dig-bench.yaml) shares no seed with
    data from the same seed and stage names; without one the seeds are those of earlier versions
    (same datasets, byte for byte)."""
    return derive_seed(*seed_head(cfg), stage, index)


def seed_head(cfg: DictConfig) -> tuple[Any, ...]:
    """What every pair seed of ``cfg`` starts from: ``(seed,)``, or ``(seed_namespace, seed)``."""
    ns, seed = cfg.get("seed_namespace") or "", cfg.seed
    return (ns, seed) if ns else (seed,)


def planned_k(seed: int, k_min: int, k_max: int) -> int:
    """The K of a pair whose K is planned (``quota`` balance, or a stage with control pairs)."""
    return random.Random(derive_seed(seed, "k")).randint(k_min, k_max)


def pair_id(stage: str, index: int) -> str:
    """The id of pair ``index`` of ``stage`` (also its image files' names, :func:`dig_core.data.dataset.image_names`)."""
    return f"{stage}-{index:05d}"


def plan(cfg: DictConfig) -> Plan:
    """Every pair the config asks for, in dataset order (a :class:`Plan`: items made when read)."""
    return Plan(cfg)


class PlanIds(Sequence[str]):
    """The ids of a plan's pairs in dataset order, ``f"{stage}-{i:05d}"``: length, lookup and ``in``
    in constant time (a million-pair plan lists none of them)."""

    def __init__(self, stages: Sequence[tuple[str, int]]):
        self.names = [name for name, _ in stages]
        #: index of each stage's first pair, and the plan's length last
        self.starts = list(itertools.accumulate((n for _, n in stages), initial=0))
        self._pairs = dict(stages)  # stage names are unique (config check)

    def __len__(self) -> int:
        return self.starts[-1]

    def locate(self, index: int) -> tuple[int, int]:
        """``(stage position, pair index within the stage)`` of plan index ``index`` (negative: from the end)."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"plan index {index} out of range (the plan has {n} pairs)")
        index %= n
        s = bisect.bisect_right(self.starts, index) - 1
        return s, index - self.starts[s]

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[j] for j in range(*index.indices(len(self)))]
        s, i = self.locate(index)
        return pair_id(self.names[s], i)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        name, _, num = value.rpartition("-")
        if not (num.isascii() and num.isdigit()):
            return False
        i = int(num)
        return pair_id(name, i) == value and i < self._pairs.get(name, 0)


class Plan(Sequence[WorkItem]):
    """Every pair a config asks for, in dataset order, each :class:`WorkItem` made when it is read:
    building a plan costs the same for ten pairs or a million.

    With ``perturbations.balance: quota`` each pair's K is drawn from its seed and the stage's edit
    types are dealt out over its pairs in order by :func:`dig_core.sampling.quota_stream`, so a
    stage's type counts follow the weights (dealt, and kept, as far as the stage is read: reading
    pair i deals its pairs 0..i); ``feasible`` leaves K and types to the edit sampler (a stage with
    ``k_min: 0`` still plans K, so its control pairs are known up front)."""

    def __init__(self, cfg: DictConfig):
        self.quota = cfg.perturbations.get("balance", "quota") == "quota"
        self.weights = {k: float(v) for k, v in cfg.perturbations.weights.items() if v and v > 0}
        self.head = seed_head(cfg)
        # plain values: 100x faster per pair than the node
        self.stages = [SimpleNamespace(**OmegaConf.to_container(node)) for node in cfg.curriculum.stages]
        self.ids = PlanIds([(st.name, st.pairs) for st in self.stages])
        self._dealt: dict[int, _Dealt] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[j] for j in range(*index.indices(len(self)))]
        s, i = self.ids.locate(index)
        st = self.stages[s]
        seed = derive_seed(*self.head, st.name, i)
        k, types = -1, ()
        if self.quota:
            if s not in self._dealt:
                self._dealt[s] = _Dealt(self, st)
            k, types = self._dealt[s].pair(i)
        elif st.k_min == 0:
            k = planned_k(seed, st.k_min, st.k_max)
        return WorkItem(self.ids.starts[s] + i, pair_id(st.name, i), st.name, st.k_min, st.k_max,
                        st.count_in_prompt, seed, k, types)

    def __iter__(self) -> Iterator[WorkItem]:
        return self.iter_from(0)

    def iter_from(self, start: int) -> Iterator[WorkItem]:
        """The items from plan index ``start`` on, each made when the iterator reaches it."""
        return map(self.__getitem__, range(start, len(self)))


class _Dealt:
    """A quota stage's planned K and edit types, dealt pair by pair as far as read."""

    def __init__(self, plan: Plan, st: SimpleNamespace):
        from dig_core.sampling import quota_stream

        self.seed = functools.partial(derive_seed, *plan.head, st.name)
        self.k_range = st.k_min, st.k_max
        self.ks: list[int] = []
        self.types: list[str] = []
        self.bounds = [0]  # where each pair's types start in self.types, then where the last one ends
        self.stream = quota_stream(plan.weights, random.Random(self.seed("types")))

    def pair(self, i: int) -> tuple[int, tuple[str, ...]]:
        while len(self.ks) <= i:
            k = planned_k(self.seed(len(self.ks)), *self.k_range)
            self.ks.append(k)
            self.types.extend(itertools.islice(self.stream, k))
            self.bounds.append(len(self.types))
        return self.ks[i], tuple(self.types[self.bounds[i]:self.bounds[i + 1]])


def attempt_seed(item: WorkItem, attempt: int) -> int:
    """The seed of a pair's ``attempt``-th draw (scene and edits); attempt 0 unless rejected."""
    return derive_seed(item.seed, attempt)
