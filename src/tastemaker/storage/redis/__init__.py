"""Redis backends for what workers share at request time: rate-limit buckets, leases."""
