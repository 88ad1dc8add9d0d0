"""DiG's files on disk besides the dataset folder's own format: model answers (``predictions``)
and the default vocabulary (``vocabulary.json``, package data read by :mod:`dig_core.spec`)."""
