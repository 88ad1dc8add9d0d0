"""The perturbation interface: one edit of one object, recorded as a :class:`Difference`."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from dig_core.plugins.base import Plugin
from dig_core.spec import ObjectSpec, SceneSpec, Vocabulary, scene_problems


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
    def from_dict(cls, d: dict[str, Any]) -> Difference:
        return cls(**d)

    @property
    def in_a(self) -> bool:
        return bool(self.before)

    @property
    def in_b(self) -> bool:
        return bool(self.after)


@dataclass
class EditContext:
    """What a perturbation may consult: the vocabulary and the placement rules of the scene config.

    ``reference`` is the unedited scene A while :func:`dig_core.sampling.sample_edits` builds scene B
    (``None`` when a perturbation is applied on its own). Edits that place an object (``add``,
    ``move``) keep clear of A's objects too, so an object is never added where another was just
    removed (which could look like no change), and new ids are unique across A and B.
    """

    vocab: Vocabulary
    min_dist: float = 0.25
    margin: float = 0.4
    max_attempts: int = 50  # placement tries for an edit that places an object
    extra: dict[str, Any] = field(default_factory=dict)
    reference: SceneSpec | None = None

    def next_object_id(self, scene: SceneSpec) -> int:
        """An id not used in ``scene`` nor in the reference scene."""
        ids = [o.id for o in scene.objects]
        if self.reference is not None:
            ids += [o.id for o in self.reference.objects]
        return max(ids, default=-1) + 1


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

    def checked(
        self, new_scene: SceneSpec, difference: Difference, ctx: EditContext
    ) -> tuple[SceneSpec, Difference] | None:
        """``(new_scene, difference)`` if ``new_scene`` is physically valid (known values, resting on
        the ground, in bounds, footprints ``ctx.min_dist`` apart), else None: the usual last line
        of :meth:`apply`."""
        if scene_problems(new_scene, ctx.vocab, ctx.min_dist):
            return None
        return new_scene, difference
