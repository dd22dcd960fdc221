"""Which pacing store a service's client gets: the picture in this process, or the account's in Redis.

Chosen with the other stores (`opened_stores`): Redis when the settings name it, one picture per upstream
key (Parse.bot and the AI Parser each have their own bucket). `redis` is imported only in that case.
"""

from __future__ import annotations

from parse_mcp.runtime import Runtime
from parse_mcp.services.http import MemoryPacing, PacingStore
from parse_mcp.settings import Secret
from parse_mcp.state import Stores


def pacing_store(stores: Stores, upstream_key: Secret, runtime: Runtime) -> PacingStore:
    if stores.shared is None:
        return MemoryPacing()
    from parse_mcp.state.pacing_redis import RedisPacing

    return RedisPacing.for_account(stores.shared, upstream_key.reveal(), runtime)
