"""Privacy: consent, erasure, export, pseudonymization, retention (see docs/architecture.md)."""
