"""The write path: validation, deduplication, the event log, and the stream processor."""
