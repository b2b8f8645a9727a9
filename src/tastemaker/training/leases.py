"""Background work on one node at a time: a node's hold on a deployment-wide lease.

A :class:`NodeLease` wraps one :class:`~tastemaker.storage.protocols.Lease` handle (the
factory picks the backend: a flock embedded, Redis or a PostgreSQL advisory lock
distributed). Work on this node takes it with :meth:`NodeLease.hold` and gives it back with
:meth:`NodeLease.let_go`; holds nest (the server queues several train jobs under one
hold), and while any is held a thread renews the lease every ttl/3, so a node that dies
stops renewing and the lease frees itself a ttl later. A contender is refused with
:class:`LeaseHeld`, which names the holder.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tastemaker.storage.protocols import Lease

log = logging.getLogger(__name__)
TRAIN = "train"  # who trains (POST /v1/models/train, tastemaker train, periodic retraining)
RETENTION = "retention"  # who deletes expired events from the shared stores
CANARY_METRICS = "canary-metrics"  # who analyses running canaries' served metrics (from the shared logs)


def node_name() -> str:
    """This process as other nodes are told it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class LeaseHeld(RuntimeError):
    """Another node holds the lease ``name``; ``holder`` says which (host:pid ...)."""

    def __init__(self, name: str, holder: str | None):
        self.name, self.holder = name, holder or "another node"
        super().__init__(f"the {name!r} lease is held by {self.holder}: it runs on one node at a time; "
                         "try again when that node is done")


class LeaseLost(RuntimeError):
    """The lease this work was started under is held by another now: its result is not published."""


def check_holder(settings, name: str, holder: str) -> None:
    """Raise :class:`LeaseLost` unless ``holder`` (a :attr:`NodeLease.holder_id`) still holds
    the deployment's lease ``name``: the fence a train job checks right before it publishes
    (it may run in another process than the node that holds the lease)."""
    from tastemaker.storage.factory import open_lease

    lease = open_lease(settings, name, f"fence check ({node_name()})")
    try:
        now = lease.holder()
    finally:
        getattr(lease, "close", lambda: None)()
    if now != holder:
        raise LeaseLost(f"the {name!r} lease this job started under ({holder}) is now "
                        f"{'held by ' + now if now else 'free'}: not publishing")


class NodeLease:
    """This node's hold on ``lease`` (named ``name``), renewed every ``ttl_s / 3`` while held.

    >>> import tempfile
    >>> from tastemaker.storage.local.lease import LocalLease
    >>> root = tempfile.mkdtemp()
    >>> a = NodeLease(LocalLease(root, "train", owner="node-a"), "train")
    >>> b = NodeLease(LocalLease(root, "train", owner="node-b"), "train")
    >>> a.hold(); a.hold(); a.let_go()
    >>> b.hold()
    Traceback (most recent call last):
    ...
    tastemaker.training.leases.LeaseHeld: the 'train' lease is held by node-a: it runs on one node at a time; try again when that node is done
    >>> a.let_go(); b.hold(); b.held
    True
    >>> b.close()
    """

    def __init__(self, lease: Lease, name: str, ttl_s: float = 30.0):
        self.lease, self.name, self.ttl_s = lease, name, ttl_s
        self._holds = 0
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None
        self.holder_id: str | None = None  # how others see this node's hold (the fence's holder)
        self.lost = False  # the lease was found taken by another while held (a stall past the ttl)

    @property
    def held(self) -> bool:
        return self._holds > 0

    def hold(self) -> None:
        """Take (or nest on) the lease; raises :class:`LeaseHeld` naming the holder when another node has it."""
        with self._lock:
            if self._holds == 0:
                if not self.lease.acquire():
                    raise LeaseHeld(self.name, self.lease.holder())
                self.lost = False
                self.holder_id = self.lease.holder()
                self._stop = threading.Event()
                threading.Thread(target=self._renew, args=(self._stop,), name=f"lease-{self.name}", daemon=True).start()
            self._holds += 1

    def let_go(self) -> None:
        """End one hold; the last one releases the lease."""
        with self._lock:
            if self._holds == 0:
                return
            self._holds -= 1
            if self._holds == 0:
                self._stop.set()
                try:
                    self.lease.release()
                except Exception:  # the service is gone: the lease frees itself a ttl later
                    log.warning("could not release the %r lease", self.name, exc_info=True)

    @contextmanager
    def holding(self) -> Iterator[None]:
        """``with lease.holding():`` the work inside runs on this node only."""
        self.hold()
        try:
            yield
        finally:
            self.let_go()

    def _renew(self, stop: threading.Event) -> None:
        while not stop.wait(self.ttl_s / 3):
            try:
                ok = self.lease.renew()
            except Exception:  # a blip: the next renewal tries again within the ttl
                log.warning("could not renew the %r lease", self.name, exc_info=True)
                continue
            if not ok and not stop.is_set():
                self.lost = True
                log.error("the %r lease was lost (taken by %s): this node paused past its ttl", self.name,
                          self.lease.holder())

    def close(self) -> None:
        """Release whatever is held (engine shutdown) and close the handle's connection if it has one."""
        with self._lock:
            holds, self._holds = self._holds, 1 if self._holds else 0
        if holds:
            self.let_go()
        getattr(self.lease, "close", lambda: None)()


class NodeLeases:
    """This node's :class:`NodeLease` per name, opened on first use by ``open(name)``."""

    def __init__(self, open: Callable[[str], Lease], ttl_s: float = 30.0):
        self._open, self.ttl_s = open, ttl_s
        self._leases: dict[str, NodeLease] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> NodeLease:
        with self._lock:
            if name not in self._leases:
                self._leases[name] = NodeLease(self._open(name), name, self.ttl_s)
            return self._leases[name]

    def close(self) -> None:
        with self._lock:
            leases, self._leases = list(self._leases.values()), {}
        for lease in leases:
            lease.close()
