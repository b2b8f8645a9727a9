"""Ingest: validate, deduplicate, append durably, apply to online state, then acknowledge."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tastemaker.ingest.processor import StreamProcessor
from tastemaker.schema.registry import EventSchemaRegistry
from tastemaker.schema.validation import DEFAULT_LIMITS, InputLimits, decode_events


@dataclass
class IngestResult:
    accepted: int
    duplicates: int
    last_seq: int

    def to_dict(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicates": self.duplicates}


class IngestService:
    """The write path of DESIGN.md, up to the ack.

    The durable append (an fsync) runs on one writer thread so the event loop keeps serving
    reads; state is then updated on the loop thread, before the response is sent, so the
    next request of that user sees the event.
    """

    def __init__(self, processor: StreamProcessor, event_schemas: EventSchemaRegistry,
                 limits: InputLimits = DEFAULT_LIMITS):
        self.processor = processor
        self.event_schemas = event_schemas
        self.limits = limits  # bounds on free-form fields (Settings.input_limits)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-log-writer")

    async def ingest(self, body: bytes) -> IngestResult:
        events = decode_events(body, self.event_schemas, limits=self.limits)  # raises ValidationFailed: nothing written
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._writer, self.processor.stores.events.append, events)
        self.processor.apply_appended(result.accepted)
        return IngestResult(len(result.accepted), result.duplicates, self.processor.state.applied_seq)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
