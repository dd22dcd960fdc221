"""Cut answers in Redis: a page request that lands on another replica reads the answer the first one kept.

Each answer is one key, sealed whole with the session secrets' `Sealer` (its metadata, its client, its body:
Redis holds nothing readable without a secret), under a hash of (client, the id's random part), expiring by
itself after the time-to-live. The caps are the account's, shared by every replica: one script does the
bookkeeping of a put alone (Redis runs scripts one at a time), so two replicas never both take the last bytes
of a cap. It keeps, under `<prefix>:<account>:results:...`:

    all              sorted set of every kept answer (member `<client hash>:<answer hash>`) by put time
    client:<hash>    the same, one client's
    sizes            hash: member -> bytes charged
    bytes            hash: `all` and each client hash -> bytes charged in all

and on each put drops what has expired, then the client's own oldest while its cap is exceeded, then the
oldest of all while the total is, and keeps the new answer. The script names the keys of the answers it drops
itself (from their members), as a single Redis allows; a Redis Cluster would need one hash slot per account.

Opening a sealed answer of 2 MB takes about 15 ms (Fernet: base64, an HMAC and AES-CBC over 2.7 MB), three
times a page's budget; the round trip itself is a fraction of a millisecond. So each replica keeps the answers it
put or opened lately, already open (`MAX_OPENED_BYTES`, least recently read out first), and a page it already
holds costs one `EXISTS`: an answer dropped or expired in Redis reads as expired everywhere at once, cached or
not. A page on another replica pays the opening once (`python -m bench.result_store`).

Ids are checked under keys derived from the session secrets (`result_ids_from_secrets`), so every replica
checks the ids any other issued, and a rotated secret keeps the previous ids valid while it is listed.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio
import anyio.to_thread
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from parse_mcp.state.redis_stores import SharedRedis, reaching_redis_within_budget
from parse_mcp.state.results import (
    MAX_RESULT_BYTES,
    MAX_RESULT_BYTES_PER_CLIENT,
    ORIGIN_TTL_SECONDS,
    RESULT_TTL_SECONDS,
    Missing,
    Origin,
    ResultIds,
    StoredResult,
    check_caps,
    long_past,
)
from parse_mcp.state.sealing import Sealer

# The answers each replica keeps open: two clients paging 2 MB answers each, with room to spare. Past it, the
# least recently read goes (from this cache only; Redis still holds it).
MAX_OPENED_BYTES = 16 * 1024 * 1024
# The derivation's context, distinct from the sealing key's: a new one makes every issued id unknown.
_ID_KEY_INFO = b"parse-mcp result ids v1"

_PUT_SCRIPT = """
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local per_client = tonumber(ARGV[3])
local total = tonumber(ARGV[4])
local size = tonumber(ARGV[5])
local function held(field)
  return tonumber(redis.call('HGET', KEYS[3], field) or '0')
end
local function drop(member)
  local client, answer = string.match(member, '^(%x+):(%x+)$')
  local charged = tonumber(redis.call('HGET', KEYS[2], member) or '0')
  redis.call('HDEL', KEYS[2], member)
  redis.call('ZREM', KEYS[1], member)
  if client then
    redis.call('ZREM', ARGV[10] .. client, member)
    redis.call('DEL', ARGV[9] .. answer)
    if redis.call('HINCRBY', KEYS[3], client, -charged) <= 0 then redis.call('HDEL', KEYS[3], client) end
  end
  redis.call('HINCRBY', KEYS[3], 'all', -charged)
end
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - ttl)) do drop(member) end
while held(ARGV[7]) + size > per_client do
  local oldest = redis.call('ZRANGE', KEYS[4], 0, 0)
  if #oldest == 0 then break end
  drop(oldest[1])
end
while held('all') + size > total do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #oldest == 0 then break end
  drop(oldest[1])
end
redis.call('SET', KEYS[5], ARGV[8], 'PX', ARGV[11])
redis.call('ZADD', KEYS[1], now, ARGV[6])
redis.call('ZADD', KEYS[4], now, ARGV[6])
redis.call('HSET', KEYS[2], ARGV[6], size)
redis.call('HINCRBY', KEYS[3], 'all', size)
redis.call('HINCRBY', KEYS[3], ARGV[7], size)
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[11]) end
return 1
"""


def result_ids_from_secrets(secrets: Sequence[str]) -> ResultIds:
    """Id keys for every replica sharing these session secrets (the first issues, every one checks)."""
    return ResultIds([_id_key(secret) for secret in secrets])


def _id_key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_ID_KEY_INFO).derive(secret.encode())


@dataclass(frozen=True, slots=True)
class _Opened:
    stored: StoredResult
    kept_at: float


class RedisResultStore:
    def __init__(
        self,
        shared: SharedRedis,
        sealer: Sealer,
        ids: ResultIds,
        clock: Callable[[], float],
        *,
        ttl: float = RESULT_TTL_SECONDS,
        per_client: int = MAX_RESULT_BYTES_PER_CLIENT,
        total: int = MAX_RESULT_BYTES,
        opened_bytes: int = MAX_OPENED_BYTES,
    ) -> None:
        check_caps(ttl, per_client, total)
        self._redis = shared.client
        self._keys = shared.keys
        self._sealer = sealer
        self._ids = ids
        self._clock = clock
        self._ttl = ttl
        self._per_client = per_client
        self._total = total
        self._script = shared.client.register_script(_PUT_SCRIPT)
        self._opened: OrderedDict[str, _Opened] = OrderedDict()
        self._opened_bytes = 0
        self._max_opened_bytes = opened_bytes

    async def put(self, client: str, stored: StoredResult) -> str | None:
        size = stored.charged_bytes
        if size > self._per_client:
            return None
        now = self._clock()
        result_id, issued = self._ids.issue(client, now)
        who, which = self._client_hash(client), self._answer_hash(client, issued.token)
        # Sealing 2 MB takes about 15 ms: in a worker thread, so other calls go on meanwhile.
        sealed = await anyio.to_thread.run_sync(self._sealer.seal, _record(client, now, stored))
        keys = [
            self._keys.key("results", "all"),
            self._keys.key("results", "sizes"),
            self._keys.key("results", "bytes"),
            self._keys.key("results", "client", who),
            self._keys.key("result", which),
        ]
        arguments = (
            repr(now),
            repr(self._ttl),
            self._per_client,
            self._total,
            size,
            f"{who}:{which}",
            who,
            sealed,
            self._keys.key("result", ""),
            self._keys.key("results", "client", ""),
            max(1, round(self._ttl * 1000)),
        )
        origin = self._sealer.seal(json.dumps([stored.service, stored.api, stored.endpoint, now]).encode())
        async with reaching_redis_within_budget("keeping a cut answer", self._clock):
            await self._script(keys=keys, args=arguments)
            await self._redis.set(self._keys.key("results", "origin", which), origin, ex=ORIGIN_TTL_SECONDS)
        self._keep_open(which, _Opened(stored, now))
        return result_id

    async def origin(self, client: str, result_id: str) -> Origin | None:
        issued = self._ids.check(client, result_id)
        if issued is None:
            return None
        which = self._answer_hash(client, issued.token)
        async with reaching_redis_within_budget("reading where a cut answer came from", self._clock):
            sealed = await self._redis.get(self._keys.key("results", "origin", which))
        plain = self._sealer.open(sealed) if isinstance(sealed, bytes) else None
        if plain is None:
            return None
        service, api, endpoint, kept_at = json.loads(plain)
        # The key's own expiry runs on Redis's clock; the day is also counted on the caller's, as for answers.
        if self._clock() >= float(kept_at) + ORIGIN_TTL_SECONDS:
            return None
        return Origin(str(service), str(api), str(endpoint))

    async def get(self, client: str, result_id: str) -> StoredResult | Missing:
        issued = self._ids.check(client, result_id)
        if issued is None:
            return Missing.UNKNOWN
        now = self._clock()
        if long_past(issued, now, self._ttl):
            return Missing.EXPIRED
        which = self._answer_hash(client, issued.token)
        key = self._keys.key("result", which)
        opened = self._opened.get(which)
        if opened is not None:
            async with reaching_redis_within_budget("reading a cut answer", self._clock):
                still_kept = await self._redis.exists(key)
            if not still_kept or now >= opened.kept_at + self._ttl:
                self._forget(which)
                return Missing.EXPIRED
            self._opened.move_to_end(which)
            return opened.stored
        async with reaching_redis_within_budget("reading a cut answer", self._clock):
            sealed = await self._redis.get(key)
        plain = await anyio.to_thread.run_sync(self._sealer.open, sealed) if isinstance(sealed, bytes) else None
        if plain is None:  # gone, or sealed under a secret since removed: either way it cannot be read again
            return Missing.EXPIRED
        found = _from_record(plain, client)
        if isinstance(found, Missing):
            return found
        if now >= found.kept_at + self._ttl:
            return Missing.EXPIRED
        self._keep_open(which, found)
        return found.stored

    def _keep_open(self, which: str, opened: _Opened) -> None:
        size = opened.stored.charged_bytes
        self._forget(which)  # two reads that opened it at once keep it once
        if size > self._max_opened_bytes:
            return
        self._opened[which] = opened
        self._opened_bytes += size
        while self._opened_bytes > self._max_opened_bytes:
            self._forget(next(iter(self._opened)))

    def _forget(self, which: str) -> None:
        opened = self._opened.pop(which, None)
        if opened is not None:
            self._opened_bytes -= opened.stored.charged_bytes

    @staticmethod
    def _client_hash(client: str) -> str:
        return _digest(client.encode("utf-8", "surrogatepass"))

    @staticmethod
    def _answer_hash(client: str, token: bytes) -> str:
        return _digest(client.encode("utf-8", "surrogatepass") + b"\x00" + token)


def _digest(data: bytes) -> str:
    """A key name that says nothing of the client or the id (like `state.keys.digest`, on bytes)."""
    return hashlib.sha256(data).hexdigest()


def _record(client: str, kept_at: float, stored: StoredResult) -> bytes:
    """One line of JSON (which escapes any newline) for the metadata, then the body as it is."""
    header = {
        "client": client,
        "kept_at": kept_at,
        "service": stored.service,
        "tool": stored.tool,
        "api": stored.api,
        "endpoint": stored.endpoint,
        "list_path": stored.list_path,
        "created_at": stored.created_at,
    }
    return json.dumps(header).encode() + b"\n" + stored.body


def _from_record(plain: bytes, client: str) -> _Opened | Missing:
    line, _, body = plain.partition(b"\n")
    header = json.loads(line)
    if header["client"] != client:  # cannot happen (the key hashes the client), and would be another's
        return Missing.UNKNOWN
    stored = StoredResult(
        body=body,
        service=str(header["service"]),
        tool=str(header["tool"]),
        api=str(header["api"]),
        endpoint=str(header["endpoint"]),
        list_path=str(header["list_path"]),
        created_at=float(header["created_at"]),
    )
    return _Opened(stored, float(header["kept_at"]))
