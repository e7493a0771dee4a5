"""The population snapshot of a stratum: its member keys, small enough to keep,
and their digest.

Algorithm 2 keeps (site, id) pairs, the posts' identities on Stack Exchange:
per site (in key order) the site's name and its sorted ids stored as their
differences (mostly small numbers), all compressed with zlib, so a million
posts take a few hundred kilobytes. Its digest is the SHA-256 of the UTF-8
text with one line ``site<TAB>id<LF>`` per post, in key order (``keys_text``):
the same on any installation that holds the same posts.

Algorithm 1 (draws made before) kept the database's post ids the same way,
without sites, and digested them as 8-byte little-endian integers.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterable, Iterator

import numpy as np

from .draw import Keys, keys_by_site

_SITE_HEAD = struct.Struct("<HQ")  # length of the site's UTF-8 name, number of its ids


def keys_text(keys: Keys) -> Iterator[bytes]:
    """The canonical list of a population, in chunks: ``site\\tid\\n`` per post,
    UTF-8, sorted by site (code points) then id (as a number), each post once."""
    for site, ids in keys_by_site(keys):
        head = f"{site}\t"
        for start in range(0, len(ids), 100_000):
            chunk = ids[start:start + 100_000].tolist()
            yield (head + f"\n{head}".join(map(str, chunk)) + "\n").encode()


def keys_digest(keys: Keys) -> str:
    digest = hashlib.sha256()
    for chunk in keys_text(keys):
        digest.update(chunk)
    return digest.hexdigest()


def keys_pack(keys: Keys) -> bytes:
    parts = []
    for site, ids in keys_by_site(keys):
        name = site.encode()
        parts += [_SITE_HEAD.pack(len(name), len(ids)), name,
                  np.diff(ids, prepend=np.int64(0)).astype("<i8").tobytes()]
    return zlib.compress(b"".join(parts), 6)


def keys_unpack_by_site(blob: bytes | memoryview | None) -> dict[str, np.ndarray]:
    """The keys of ``keys_pack`` by column: site → its ids, ascending, sites in key order."""
    if not blob:
        return {}
    data, offset, out = zlib.decompress(bytes(blob)), 0, {}
    while offset < len(data):
        length, count = _SITE_HEAD.unpack_from(data, offset)
        offset += _SITE_HEAD.size
        site = data[offset:offset + length].decode()
        offset += length
        out[site] = np.cumsum(np.frombuffer(data, dtype="<i8", count=count, offset=offset))
        offset += 8 * count
    return out


def keys_unpack(blob: bytes | memoryview | None) -> list[tuple[str, int]]:
    """The (site, id) pairs of ``keys_pack``, in key order."""
    return [(site, number) for site, ids in keys_unpack_by_site(blob).items() for number in ids.tolist()]


# -- algorithm 1: database ids --------------------------------------------------------


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
