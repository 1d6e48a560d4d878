"""Storage: the Store interface and its backends (SQLite now, PostgreSQL to follow)."""

from ians.store.base import AckResult, Delivery, ExerciseQuery, InboxItem, MessageQuery, Store

__all__ = [
    "AckResult",
    "Delivery",
    "ExerciseQuery",
    "InboxItem",
    "MessageQuery",
    "Store",
]
