"""Storage: the Store interface and its backends (SQLite now, PostgreSQL to follow)."""

from ians.store.base import AckResult, Delivery, InboxItem, Store

__all__ = ["AckResult", "Delivery", "InboxItem", "Store"]
