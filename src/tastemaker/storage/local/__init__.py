"""Backends on the local file system (the embedded default's artifacts)."""
