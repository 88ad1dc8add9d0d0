"""DiG's files on disk: the dataset folder (``dataset``: format, reader, the one validation of its
lines and images, atomic writes, content hash), image pairs (``pairs``: loading, PNG encoding),
model answers (``predictions``) and the default vocabulary (``vocabulary.json``, package data read
by :mod:`dig_core.spec`). ``dig_core.dataset`` stays an alias of ``dig_core.data.dataset``."""
