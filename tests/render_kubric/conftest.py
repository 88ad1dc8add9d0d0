from __future__ import annotations

import pytest

from tests.render_blender.scenes import VOCAB


def kubric_problem() -> str | None:
    """Why Kubric cannot run here (None = it can): the renderer's own missing-piece message."""
    try:
        from dig_render_kubric.loader import KubricUnavailable, load_kubric
    except ImportError as e:
        return f"dig-render-kubric is not installed ({e})"
    try:
        load_kubric()
    except KubricUnavailable as e:
        return str(e)
    return None


PROBLEM = kubric_problem()
needs_kubric = pytest.mark.skipif(PROBLEM is not None, reason=f"kubric is not importable: {PROBLEM}")


@pytest.fixture(scope="module")
def kubric_renderer():
    """One Kubric renderer per test module (as one per worker in generation): 4 spp + denoise."""
    from dig_render_kubric.renderer import KubricConfig, KubricRenderer

    r = KubricRenderer(KubricConfig(samples=4))
    r.setup(VOCAB, 2)
    yield r
    r.close()
