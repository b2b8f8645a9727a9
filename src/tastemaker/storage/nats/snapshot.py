"""A JetStream stream copied to a file and republished into an empty stream, sequences kept.

nats-py has no stream snapshot API (the server's own needs the system account and is not
portable across names), so the copy reads the stream: :func:`dump_stream` notes the stream's
last sequence, then reads every message up to it through an ephemeral pull consumer and
writes ``(sequence, partition, Nats-Msg-Id, payload)`` frames (4-byte length + msgpack).
The event log's positions are stream sequences, which the state snapshot and impressions
refer to, so :func:`restore_stream` republishes the frames in order into an empty stream and
keeps every sequence: a gap (messages erased or expired) is filled with placeholder messages
on ``<prefix>.restore-gap``, purged at the end. Each ack is checked against the sequence it
must have; a mismatch (someone else published meanwhile) stops the restore.

Message ids are kept (``Nats-Msg-Id``), so a client resending an acknowledged event after a
restore is still deduplicated inside the window; an id the stream holds twice (resent after
its window) is republished without one the second time. Other headers are not kept (the
event log sets none).
"""

from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path

import msgspec
from nats.js import api

from tastemaker.storage.nats.jetstream import FETCH_CHUNK, Stream, StreamSpec
from tastemaker.storage.nats.loop import LoopThread

GAP = "restore-gap"  # subject suffix of the placeholders that keep sequences through a gap
BATCH = 5_000  # messages published per pipelined batch
_frame = struct.Struct(">I")
_pack = msgspec.msgpack.Encoder().encode
_unpack = msgspec.msgpack.Decoder(tuple).decode


class SnapshotError(Exception):
    """The stream cannot be copied or restored; the message says why."""


def _run(url: str, spec: StreamSpec, work):
    loop = LoopThread("nats-snapshot")
    try:
        async def go():
            stream = await Stream.open(url, spec)
            try:
                return await work(stream)
            finally:
                await stream.close()

        return loop.call(go(), timeout=None)
    finally:
        loop.close()


def dump_stream(url: str, spec: StreamSpec, path: Path) -> dict:
    """Write every message of the stream up to its current last sequence to ``path``;
    returns ``{name, subject_prefix, partitions, first_seq, last_seq, messages}``."""
    async def work(stream: Stream) -> dict:
        state = await stream.state()
        last, written = state.last_seq, 0
        with open(path, "wb") as fh:
            if state.messages:
                written = await _copy(stream, state.first_seq, last, fh)
        return {"name": spec.name, "subject_prefix": spec.subject_prefix, "partitions": spec.partitions,
                "first_seq": state.first_seq, "last_seq": last, "messages": written}

    return _run(url, spec, work)


async def _copy(stream: Stream, first: int, last: int, fh) -> int:
    """Frames of the messages ``first``..``last`` into ``fh``; returns how many were written.

    One pull request per chunk (``no_wait``: the server answers with what it has, then a 404
    status) into a callback subscription: nats-py's ``fetch`` awaits every message through a
    task of its own, which was four fifths of the copy's time."""
    nc, prefix = stream.nc, stream.spec.subject_prefix + "."
    name = nc._nuid.next().decode()
    config = api.ConsumerConfig(name=name, deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=first,
                                ack_policy=api.AckPolicy.NONE, filter_subject=prefix + "*", mem_storage=True,
                                num_replicas=1, inactive_threshold=60.0)
    info = await stream.js._jsm.add_consumer(stream.spec.name, config=config)
    progress = {"written": 0, "got": 0, "want": 0, "past_last": False}
    chunk_done = asyncio.Event()

    async def on_message(m) -> None:
        if not m.reply:  # a status (404 no more messages, 408 expired): the chunk is over
            chunk_done.set()
            return
        progress["got"] += 1
        seq = _stream_seq(m.reply)
        if seq > last:
            progress["past_last"] = True  # appended after the copy began: the next backup's
        else:
            msg_id = (m.headers or {}).get("Nats-Msg-Id", "")
            frame = _pack((seq, m.subject[len(prefix):], msg_id, m.data))
            fh.write(_frame.pack(len(frame)) + frame)
            progress["written"] += 1
        if progress["got"] >= progress["want"]:
            chunk_done.set()

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=on_message, pending_msgs_limit=FETCH_CHUNK * 4, pending_bytes_limit=-1)
    request = f"$JS.API.CONSUMER.MSG.NEXT.{stream.spec.name}.{name}"
    try:
        seen = 0
        while seen < info.num_pending and not progress["past_last"]:
            want = min(FETCH_CHUNK, info.num_pending - seen)
            progress.update(got=0, want=want)
            chunk_done.clear()
            await nc.publish(request, json.dumps({"batch": want, "no_wait": True}).encode(), reply=inbox)
            await asyncio.wait_for(chunk_done.wait(), 30)
            if progress["got"] == 0:
                break  # nothing left (messages deleted after the consumer counted them)
            seen += progress["got"]
    finally:
        await sub.unsubscribe()
        await stream._drop_consumer(name)
    return progress["written"]


def _stream_seq(reply: str) -> int:
    """The stream sequence in a JetStream delivery's reply subject (``m.metadata`` parses all of
    it into objects: half the copy's time). v1: ``$JS.ACK.<stream>.<consumer>.<delivered>.<seq>
    .<cseq>.<ts>.<pending>``; v2 adds a domain and an account hash after ``ACK`` and a token at
    the end.

    >>> _stream_seq("$JS.ACK.S.C.1.42.7.1700000000.3"), _stream_seq("$JS.ACK._.HASH.S.C.1.42.7.1700000000.3.x")
    (42, 42)
    """
    tokens = reply.split(".")
    return int(tokens[5] if len(tokens) == 9 else tokens[7])


def read_frames(path: Path):
    """The ``(seq, partition, msg_id, payload)`` frames of a dump, in order."""
    with open(path, "rb") as fh:
        while header := fh.read(_frame.size):
            (size,) = _frame.unpack(header)
            body = fh.read(size)
            if len(body) != size:
                raise SnapshotError(f"{path.name}: truncated frame")
            yield _unpack(body)


def restore_stream(url: str, spec: StreamSpec, path: Path, description: dict, *, force: bool = False) -> int:
    """Republish a :func:`dump_stream` file into the stream of ``spec`` (created if absent;
    refused if it holds or held messages, unless ``force``: then deleted and created anew),
    every message at its original sequence; returns how many were restored."""
    if description["partitions"] != spec.partitions:
        raise SnapshotError(f"the backup's stream has {description['partitions']} partitions, this deployment "
                            f"{spec.partitions}: user partitions would not match")

    async def work(stream: Stream) -> int:
        state = await stream.state()
        if state.last_seq or state.messages:
            if not force:
                raise SnapshotError(f"stream {spec.name} is not empty (last sequence {state.last_seq}); restore "
                                    "onto an empty stream, or pass --force to replace it")
            await stream.delete_stream()
            await stream._ensure()
        restored, expected, ids = 0, 1, set()
        batch: list[tuple[str, bytes, str]] = []
        seqs: list[int] = []

        async def flush() -> None:
            acks = await stream.publish(batch)
            for want, (got, duplicate) in zip(seqs, acks):
                if got != want or duplicate:
                    raise SnapshotError(f"stream {spec.name}: message {want} was stored at {got}"
                                        f"{' as a duplicate' if duplicate else ''}: another publisher is writing")
            batch.clear(), seqs.clear()

        for seq, partition, msg_id, payload in read_frames(path):
            while expected < seq:  # a gap: a placeholder keeps the sequence
                batch.append((f"{spec.subject_prefix}.{GAP}", b"", ""))
                seqs.append(expected)
                expected += 1
            if msg_id in ids:
                msg_id = ""  # a repeat (resent after its window): stored again, without dedupe
            ids.add(msg_id)
            batch.append((f"{spec.subject_prefix}.{partition}", payload, msg_id))
            seqs.append(seq)
            expected, restored = seq + 1, restored + 1
            if len(batch) >= BATCH:
                await flush()
        while expected <= description["last_seq"]:  # trailing deletions: the last sequence too
            batch.append((f"{spec.subject_prefix}.{GAP}", b"", ""))
            seqs.append(expected)
            expected += 1
        if batch:
            await flush()
        await stream.js.purge_stream(spec.name, subject=f"{spec.subject_prefix}.{GAP}")
        return restored

    return _run(url, spec, work)
