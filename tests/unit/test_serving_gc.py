"""The serving process's collector: survivors frozen each tick, frozen cycles collected once
sockets closed."""

from __future__ import annotations

import gc
import weakref

from iii_live.server.connections import Connections
from iii_live.server.serving_gc import ServingGC


class Node:
    """An object in a reference cycle with itself: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def frozen(obj: object) -> bool:
    return not any(tracked is obj for tracked in gc.get_objects())


def test_a_tick_collects_what_is_not_frozen_and_freezes_what_survives():
    policy = ServingGC()
    try:
        kept = Node()
        dropped = Node()
        dropped_ref = weakref.ref(dropped)
        del dropped
        policy.tick()
        assert dropped_ref() is None
        assert frozen(kept)
    finally:
        policy.stop()
    assert gc.get_freeze_count() == 0
    assert not frozen(kept)


def test_frozen_cycles_wait_for_the_full_collection_that_closed_sockets_start():
    policy = ServingGC(closed_share=0.0, min_closed=3)
    try:
        policy.tick()  # the first tick is a full collection
        assert policy.full_collections == 1
        node = Node()
        node_ref = weakref.ref(node)
        policy.tick()
        del node
        policy.tick()
        assert node_ref() is not None, "frozen garbage is kept until a full collection"
        assert policy.full_collections == 1
        connections = Connections()
        sockets = [object() for _ in range(4)]
        for sock in sockets:
            connections.add(sock)  # type: ignore[arg-type]
        for sock in sockets:
            connections.discard(sock)  # type: ignore[arg-type]
        policy.tick()
        assert policy.full_collections == 2
        assert node_ref() is None
    finally:
        policy.stop()


def test_start_ticks_on_a_thread_until_stop_gives_every_object_back():
    policy = ServingGC(tick_seconds=0.01).start()
    try:
        assert gc.get_freeze_count() > 0
    finally:
        policy.stop()
    assert gc.get_freeze_count() == 0
