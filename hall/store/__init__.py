"""Where lots and their journals live: the store interface, its SQLite implementation, its
Redis one (the lots' journals in Redis, the rest in SQLite), and the group-commit journal that
every event passes through on its way to the store."""

from hall.store.base import Store, StoredLot, StoreError
from hall.store.journal import Journal
from hall.store.sqlite import SqliteStore


def open_store(db: str, url: str = "") -> SqliteStore:
    """The store a hall runs on: SQLite alone (``url`` empty), or Redis for the lots beside the
    SQLite file ``db`` (``url`` ``redis://HOST:PORT/DB``, or ``rediss://`` over TLS). Not
    opened yet: the caller calls ``open``."""
    if not url:
        return SqliteStore(db)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from hall.store.redis import RedisStore  # only a hall on Redis imports the client

        return RedisStore(db, url)
    raise ValueError(f"unknown store {url!r}: give a redis://HOST:PORT/DB URL, or nothing for SQLite alone")


__all__ = ["Journal", "SqliteStore", "Store", "StoreError", "StoredLot", "open_store"]
