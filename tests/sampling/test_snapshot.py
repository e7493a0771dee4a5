"""Population snapshots and digests (pure): algorithm 2 keeps (site, id) pairs and
digests their canonical text; algorithm 1's database ids read as before."""

import hashlib
import random

from sampling.draws.snapshot import ids_digest, ids_pack, ids_unpack, keys_digest, keys_pack, keys_text, keys_unpack

KEYS = [("stackoverflow.com", 10), ("ai.stackexchange.com", 7), ("stackoverflow.com", 9),
        ("ai.stackexchange.com", 7), ("Ünïcode.example", 2**40), ("stackoverflow.com", 1)]
ORDERED = [("ai.stackexchange.com", 7), ("stackoverflow.com", 1), ("stackoverflow.com", 9),
           ("stackoverflow.com", 10), ("Ünïcode.example", 2**40)]


def test_keys_round_trip_in_key_order_each_once():
    assert keys_unpack(keys_pack(KEYS)) == ORDERED
    assert keys_unpack(keys_pack([])) == [] and keys_unpack(None) == []


def test_the_digest_is_sha256_of_the_sorted_site_tab_id_lines():
    text = ("ai.stackexchange.com\t7\nstackoverflow.com\t1\nstackoverflow.com\t9\nstackoverflow.com\t10\n"
            "Ünïcode.example\t1099511627776\n").encode("utf-8")
    assert b"".join(keys_text(KEYS)) == text
    assert keys_digest(KEYS) == hashlib.sha256(text).hexdigest()
    shuffled = list(KEYS)
    random.Random(2).shuffle(shuffled)
    assert keys_digest(shuffled) == keys_digest(KEYS) and keys_digest(KEYS[:-1]) != keys_digest(KEYS)
    assert keys_digest([]) == hashlib.sha256(b"").hexdigest()


def test_a_large_population_packs_small_and_digests_in_chunks():
    keys = [("stackoverflow.com", i) for i in range(1, 600_000, 3)]
    blob = keys_pack(reversed(keys))
    assert len(blob) < 20_000 and keys_unpack(blob) == keys
    text = "".join(f"{site}\t{i}\n" for site, i in keys).encode()
    assert keys_digest(keys) == hashlib.sha256(text).hexdigest()


def test_algorithm_1_snapshots_read_as_before():
    ids = [5, 3, 3, 900_000]
    assert ids_unpack(ids_pack(ids)) == [3, 5, 900_000]
    # SHA-256 of the sorted ids as 8-byte little-endian integers
    raw = b"".join(i.to_bytes(8, "little") for i in (3, 5, 900_000))
    assert ids_digest(ids) == hashlib.sha256(raw).hexdigest()
