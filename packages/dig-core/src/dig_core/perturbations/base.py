"""The perturbation interface: one edit of one object, recorded as a :class:`Difference`."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from dig_core.plugins.base import Plugin
from dig_core.spec import ObjectSpec, SceneSpec, Vocabulary


@dataclass
class Difference:
    """One edit between scene A and scene B.

    ``type`` is the perturbation's PLUGIN_NAME; ``object_id`` the edited (or added/removed) object;
    ``before``/``after`` its attributes in A/B (``{}`` for the side where it does not exist);
    ``box`` is filled in by core from the renderers' instance maps (pixels, x1/y1 exclusive).
    """

    type: str
    object_id: int
    before: dict[str, Any]
    after: dict[str, Any]
    box: list[int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Difference":
        return cls(**d)

    @property
    def in_a(self) -> bool:
        return bool(self.before)

    @property
    def in_b(self) -> bool:
        return bool(self.after)


@dataclass
class EditContext:
    """What a perturbation may consult: the vocabulary and the placement rules of the scene config."""

    vocab: Vocabulary
    min_dist: float = 0.25
    margin: float = 0.4
    max_attempts: int = 50
    extra: dict[str, Any] = field(default_factory=dict)


class Perturbation(Plugin):
    """Base class of perturbation plugins.

    ``CREATES = False``: the edit changes/removes an existing object; the edit sampler calls
    :meth:`applies_to` for candidates and :meth:`apply` with the chosen object.
    ``CREATES = True``: the edit adds a new object; :meth:`apply` is called with ``obj=None``.

    :meth:`apply` returns ``(new_scene, difference)`` or ``None`` when it cannot produce a physically
    valid scene (the sampler then tries another object or type). It must not modify ``scene``.
    """

    CREATES: ClassVar[bool] = False

    def applies_to(self, scene: SceneSpec, obj: ObjectSpec, ctx: EditContext) -> bool:
        return True

    def apply(
        self, scene: SceneSpec, obj: ObjectSpec | None, rng: random.Random, ctx: EditContext
    ) -> tuple[SceneSpec, Difference] | None:
        raise NotImplementedError(f"{type(self).__name__} must implement apply()")
