"""Store interfaces (one protocol per concern) and their backends, chosen in storage.factory."""
