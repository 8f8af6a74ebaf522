"""Where lots and their journals live: the store interface, its SQLite implementation, and
the group-commit journal that every event passes through on its way to the store."""

from hall.store.base import Store, StoredLot, StoreError
from hall.store.journal import Journal
from hall.store.sqlite import SqliteStore

__all__ = ["Journal", "SqliteStore", "Store", "StoreError", "StoredLot"]
