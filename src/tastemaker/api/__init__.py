"""The HTTP API: one module per resource; auth and metrics as middleware."""
