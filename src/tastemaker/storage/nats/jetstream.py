"""The JetStream calls the event log needs, as coroutines on one connection.

* :meth:`Stream.publish` pipelines a batch: every message goes out with its own reply
  subject under one inbox, then the acks are awaited together (one round trip per batch,
  not per message; JetStream assigns sequences in arrival order, so a batch keeps its order).
* :meth:`Stream.scan` replays from a sequence through an ephemeral pull consumer (optionally
  filtered to one subject), in stream order; the consumer is created with the stream
  position known (``num_pending``), so a scan fetches exactly what is there and never
  waits on a timeout to learn it reached the end.
* :meth:`Stream.delete` removes messages by sequence; the server overwrites their bytes in
  its block files (``no_erase`` false), which is what erasure needs.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

import nats
from nats.js import api
from nats.js.errors import NotFoundError

FETCH_CHUNK = 5_000  # messages per pull request while scanning


_ACK_SEQ = re.compile(rb'"seq":\s*(\d+)')
_ACK_DUPLICATE = re.compile(rb'"duplicate":\s*true')


class _Batch:
    __slots__ = ("acks", "left", "done")

    def __init__(self, n: int, done: asyncio.Future):
        self.acks: list[bytes | None] = [None] * n
        self.left = n
        self.done = done


def _parse_ack(data: bytes | None) -> tuple[int, bool]:
    """``{"stream":..,"seq":n[,"duplicate":true]}`` without a JSON decoder (one per event)."""
    match = _ACK_SEQ.search(data) if data is not None and b'"error"' not in data else None
    if match is None:
        raise JetStreamError(f"publish refused: {data!r}")
    return int(match.group(1)), _ACK_DUPLICATE.search(data) is not None


class JetStreamError(RuntimeError):
    """JetStream refused a request (its error code and description are in the message)."""


@dataclass(frozen=True)
class StreamSpec:
    """The one stream the log lives in: ``<subject_prefix>.<partition>`` for each of ``partitions``."""

    name: str = "TASTEMAKER_EVENTS"
    subject_prefix: str = "tastemaker.events"
    partitions: int = 16
    replicas: int = 1
    duplicate_window_s: float = 3600.0

    def subject(self, partition: int) -> str:
        return f"{self.subject_prefix}.{partition}"


class Stream:
    """One NATS connection and the stream of ``spec``; create with :meth:`open` on a running loop."""

    def __init__(self, nc: nats.NATS, spec: StreamSpec):
        self.nc = nc
        self.js = nc.jetstream()
        self.spec = spec
        self._acks: dict[str, tuple[_Batch, int]] = {}
        self._tokens = itertools.count()
        self._inbox = nc.new_inbox()

    @classmethod
    async def open(cls, url: str, spec: StreamSpec) -> Stream:
        nc = await nats.connect(url, name="tastemaker", max_reconnect_attempts=-1, allow_reconnect=True)
        stream = cls(nc, spec)
        await nc.subscribe(f"{stream._inbox}.*", cb=stream._on_ack)
        await stream._ensure()
        return stream

    async def _ensure(self) -> None:
        try:
            await self.js.stream_info(self.spec.name)
            return
        except NotFoundError:
            pass
        await self.js.add_stream(api.StreamConfig(
            name=self.spec.name, subjects=[f"{self.spec.subject_prefix}.*"], storage=api.StorageType.FILE,
            num_replicas=self.spec.replicas, duplicate_window=self.spec.duplicate_window_s,
            retention=api.RetentionPolicy.LIMITS, discard=api.DiscardPolicy.OLD, allow_direct=True,
        ))

    async def _on_ack(self, msg: Any) -> None:
        waiting = self._acks.pop(msg.subject, None)
        if waiting is not None:
            batch, index = waiting
            batch.acks[index] = msg.data
            batch.left -= 1
            if batch.left == 0 and not batch.done.done():
                batch.done.set_result(None)

    async def publish(self, messages: list[tuple[str, bytes, str]], timeout: float = 30.0) -> list[tuple[int, bool]]:
        """Publish ``(subject, payload, message id)`` in order; ``(seq, duplicate)`` per message, in order.

        A duplicate is an id inside the deduplication window; its ``seq`` is the first copy's.
        One future per batch, not per message: the acks fill a list as they come.
        """
        batch = _Batch(len(messages), asyncio.get_running_loop().create_future())
        replies = []
        for index, (subject, payload, msg_id) in enumerate(messages):
            reply = f"{self._inbox}.{next(self._tokens)}"
            self._acks[reply] = (batch, index)
            replies.append(reply)
            await self.nc.publish(subject, payload, reply=reply, headers={"Nats-Msg-Id": msg_id})
        try:
            await self.nc.flush(timeout)
            await asyncio.wait_for(batch.done, timeout)
        finally:
            for reply in replies:  # on a timeout: forget the late ones
                self._acks.pop(reply, None)
        return [_parse_ack(data) for data in batch.acks]

    async def exists(self, seq: int) -> bool:
        try:
            await self.js.get_msg(self.spec.name, seq)
            return True
        except NotFoundError:
            return False

    async def state(self) -> api.StreamState:
        return (await self.js.stream_info(self.spec.name)).state

    async def scan(self, after_seq: int, limit: int, subject: str | None = None) -> list[tuple[int, bytes]]:
        """Up to ``limit`` ``(seq, payload)`` after ``after_seq`` in stream order (of ``subject`` only, if given)."""
        name = self.nc._nuid.next().decode()
        config = api.ConsumerConfig(
            name=name, deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after_seq + 1,
            ack_policy=api.AckPolicy.NONE, filter_subject=subject or f"{self.spec.subject_prefix}.*",
            mem_storage=True, num_replicas=1, inactive_threshold=30.0,
        )
        info = await self.js._jsm.add_consumer(self.spec.name, config=config)
        want = min(limit, info.num_pending)
        out: list[tuple[int, bytes]] = []
        if want == 0:
            await self._drop_consumer(name)
            return out
        sub = await self.js.pull_subscribe_bind(stream=self.spec.name, name=name, pending_msgs_limit=FETCH_CHUNK * 2)
        try:
            while len(out) < want:
                try:
                    msgs = await sub.fetch(min(FETCH_CHUNK, want - len(out)), timeout=5)
                except nats.errors.TimeoutError:
                    break  # messages deleted after the consumer counted them
                out += [(m.metadata.sequence.stream, m.data) for m in msgs]
        finally:
            await sub.unsubscribe()
            await self._drop_consumer(name)
        return out

    async def _drop_consumer(self, name: str) -> None:
        try:
            await self.js._jsm.delete_consumer(self.spec.name, name)
        except NotFoundError:
            pass

    async def delete(self, seqs: list[int]) -> int:
        """Delete (and overwrite) the messages at ``seqs``, pipelined; returns how many existed."""
        subject = f"$JS.API.STREAM.MSG.DELETE.{self.spec.name}"
        replies = await asyncio.gather(*(self.nc.request(subject, json.dumps({"seq": s}).encode(), timeout=30)
                                         for s in seqs))
        deleted = 0
        for reply in replies:
            body = json.loads(reply.data)
            if body.get("success"):
                deleted += 1
            elif body.get("error", {}).get("err_code") not in (10057, 10037):  # already gone: no such message
                raise JetStreamError(f"delete refused: {body.get('error')}")
        return deleted

    async def delete_stream(self) -> None:
        try:
            await self.js.delete_stream(self.spec.name)
        except NotFoundError:
            pass

    async def close(self) -> None:
        await self.nc.drain()
