"""The population snapshot of a stratum: its member ids, small enough to keep.

Sorted ids are stored as their differences (mostly small numbers) compressed
with zlib: a million ids take a few hundred kilobytes. The digest identifies
the population without reading the ids back.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable

import numpy as np


def ids_digest(ids: Iterable[int]) -> str:
    array = np.unique(np.fromiter(ids, dtype=np.int64))
    return hashlib.sha256(array.astype("<i8").tobytes()).hexdigest()


def ids_pack(ids: Iterable[int]) -> bytes:
    array = np.unique(np.fromiter(ids, dtype=np.int64))
    deltas = np.diff(array, prepend=np.int64(0)).astype("<i8")
    return zlib.compress(deltas.tobytes(), 6)


def ids_unpack(blob: bytes | memoryview | None) -> list[int]:
    if not blob:
        return []
    deltas = np.frombuffer(zlib.decompress(bytes(blob)), dtype="<i8")
    return np.cumsum(deltas).tolist()
