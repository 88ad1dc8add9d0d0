"""Old import path of :mod:`dig_core.models.vlm`: ``import dig_core.vlm`` gives that very module."""

import sys

from dig_core.models import vlm as _vlm

sys.modules[__name__] = _vlm
