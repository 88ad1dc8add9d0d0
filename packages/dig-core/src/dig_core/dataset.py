"""Old import path of :mod:`dig_core.data.dataset`: ``import dig_core.dataset`` gives that very module."""

import sys

from dig_core.data import dataset as _dataset

sys.modules[__name__] = _dataset
