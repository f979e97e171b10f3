"""In-memory repositories and unit of work: every use case runs without a database.

Repositories hand out copies, so an entity changed but not saved changes nothing, and a unit of
work that ends without commit() restores the state it started from. One lock serializes units of
work, which is what row locks give the real databases.
"""

from shop.adapters.memory.metrics import MemoryMetrics
from shop.adapters.memory.store import MemoryStore
from shop.adapters.memory.unit_of_work import MemoryUnitOfWork

__all__ = ["MemoryMetrics", "MemoryStore", "MemoryUnitOfWork"]
