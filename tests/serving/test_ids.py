"""serving.ids: recommendation ids are unique within and across processes."""

from __future__ import annotations

import os

from tastemaker.serving.ids import RecommendationIds


def test_ids_are_unique_and_shaped_like_the_random_ones():
    ids = RecommendationIds()
    drawn = [ids.next() for _ in range(10_000)]
    assert len(set(drawn)) == len(drawn)
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in drawn)


def test_a_forked_child_draws_a_new_prefix():
    ids = RecommendationIds()
    parent = ids.next()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its next id and leave at once
        os.write(write, ids.next().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    assert len(child) == 24 and child[:12] != parent[:12]


def test_separate_generators_do_not_collide():
    a, b = RecommendationIds(), RecommendationIds()
    assert a.next()[:12] != b.next()[:12]
