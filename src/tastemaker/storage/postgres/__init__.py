"""The distributed deployment's stores on PostgreSQL 15+ (psycopg 3, a connection pool each,
schema migrations with yoyo). Only ``storage.factory`` imports this package."""
