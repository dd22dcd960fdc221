"""Answers this server cut, kept for a while so that the agent reads the rest without paying for them again.

A cut answer is stored whole (JSON bytes, already redacted by the caller; the store never reads them) under a
`result_id` given to the client that made the call. `get` tells three outcomes apart and leaks nothing:

- found: the stored answer;
- `Missing.UNKNOWN`: an id this client was never given. Another client's id, a forged one and a malformed one
  all answer this, exactly like an id never issued, so a leaked id is worth nothing to anyone else;
- `Missing.EXPIRED`: an id given to this client whose answer is gone (its time-to-live passed, or it was
  dropped to make room). Re-running the call is the only way to see it again.

Telling "another client's" from "my expired one" needs no tombstones: an id authenticates itself. It is
`res_` and 40 URL-safe base64 characters encoding 30 bytes: 12 random bytes (which answer), the issue time
(4 bytes, whole seconds, big-endian) and the first 14 bytes of an HMAC-SHA256 over (client, random bytes, issue
time) under a key. An id whose MAC checks for this client was issued to it, so when its answer is not found it
has expired; any other id, whatever it is, is unknown. The memory store's key is random for each process (its
answers die with it anyway); the Redis store's keys derive from the session secrets, so every replica checks
the same ids, and a rotated secret (several, comma-separated: the first issues, every one checks) keeps the ids
issued under the previous one readable.

Bounds (memory in one process; in Redis, the account's total instead of the process's): a time-to-live, a cap
on each client's bytes and one on the total, oldest out first. Under pressure an answer is dropped, never the
process; one answer larger than a client's cap is not stored at all (`put` answers None, and the caller then
offers no pages). Each answer is charged its body's bytes plus `RESULT_OVERHEAD_BYTES`.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
import secrets
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

# Long enough to read a few pages at an agent's pace (each page is a model turn, seconds to a minute), short
# enough that an answer nobody reads again stops holding memory soon: the issue's default.
RESULT_TTL_SECONDS = 15 * 60
# A cut answer is over 40,000 characters; a big listing is 1 to 2 MB. 8 MB holds a client's few latest big
# answers (four of 2 MB), enough to page one while making the next calls.
MAX_RESULT_BYTES_PER_CLIENT = 8 * 1024 * 1024
# The backstop for many clients at once: eight clients' worth, a modest share of a server's memory (the memory
# store holds about 1.0x the stored bytes: `python -m bench.result_store`).
MAX_RESULT_BYTES = 64 * 1024 * 1024
# What an answer costs beyond its body (metadata, id, index entries), charged with it: even answers of a few
# bytes are bounded in number (at most 8,192 per client under the default cap).
RESULT_OVERHEAD_BYTES = 1024

PREFIX = "res_"
_RANDOM_BYTES = 12
_TIME_BYTES = 4
_MAC_BYTES = 14
_RAW_BYTES = _RANDOM_BYTES + _TIME_BYTES + _MAC_BYTES  # 30: a multiple of 3, so base64 has no padding
_ENCODED_CHARS = _RAW_BYTES * 4 // 3  # 40
RESULT_ID_CHARS = len(PREFIX) + _ENCODED_CHARS
# ASCII only and nothing else: each of the 40 characters carries 6 whole bits, so one id has one spelling.
_ID_PATTERN = re.compile(r"res_[A-Za-z0-9_-]{40}")
# The MAC's context: a new one would make every id issued so far unknown (a deliberate reset).
_MAC_CONTEXT = b"parse-mcp result id v1\x00"
_MAX_ISSUE_TIME = 2**32 - 1


class Missing(enum.Enum):
    """Why `get` found no answer (the error codes `unknown_result` and `result_expired`)."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A cut answer, whole, and where it came from. `body` is the answer as JSON, already redacted; `list_path`
    is the list being paged (`$.rows`). The store keeps them as they are and interprets none."""

    body: bytes
    service: str
    tool: str
    api: str
    endpoint: str
    list_path: str
    created_at: float

    @property
    def charged_bytes(self) -> int:
        """What keeping it counts against the caps."""
        return len(self.body) + RESULT_OVERHEAD_BYTES


# How long where an answer came from (its service, API and endpoint: never its data) is kept after the answer
# itself: a day, so that an answer read too late can still say what running its call again would cost.
ORIGIN_TTL_SECONDS = 24 * 3600
# The backstop on origins kept in one process: each is a few hundred bytes.
MAX_ORIGINS = 10_000


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a kept answer came from."""

    service: str
    api: str
    endpoint: str

    @classmethod
    def of(cls, stored: StoredResult) -> Origin:
        return cls(stored.service, stored.api, stored.endpoint)


class ResultStore(Protocol):
    async def put(self, client: str, stored: StoredResult) -> str | None:
        """Keep an answer for this client, dropping its own (then anyone's) oldest as the caps require; the new
        `result_id`, or None when the answer alone is larger than a client's cap (nothing is kept)."""
        ...

    async def get(self, client: str, result_id: str) -> StoredResult | Missing:
        """The answer behind an id of this client's, or why there is none. Never raises on any id; the Redis
        store raises `StateUnavailable` when Redis cannot be reached ("expired" would be a wrong answer)."""
        ...

    async def origin(self, client: str, result_id: str) -> Origin | None:
        """Where an answer given to this client came from, for `ORIGIN_TTL_SECONDS` after it was kept (its answer
        may be gone); None for any other id, or later."""
        ...


@dataclass(frozen=True, slots=True)
class IssuedId:
    """What a genuine id of this client's says: which answer (`token`, its random part) and when it was issued."""

    token: bytes
    issued_at: int


class ResultIds:
    """Issues ids and checks them, under keys: the first issues, every one checks (rotation)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys or any(len(key) < 16 for key in keys):
            raise ValueError("at least one key of 16 bytes or more is needed")
        self._keys = tuple(keys)

    @classmethod
    def random(cls) -> ResultIds:
        """Ids only this process checks: for the memory store, whose answers live and die with the process."""
        return cls([secrets.token_bytes(32)])

    def issue(self, client: str, now: float) -> tuple[str, IssuedId]:
        """A new id for this client, and what it says."""
        token = secrets.token_bytes(_RANDOM_BYTES)
        issued_at = min(max(int(now), 0), _MAX_ISSUE_TIME)
        issued = struct.pack(">I", issued_at)
        raw = token + issued + _mac(self._keys[0], client, token + issued)
        return PREFIX + base64.urlsafe_b64encode(raw).decode("ascii"), IssuedId(token, issued_at)

    def check(self, client: str, result_id: object) -> IssuedId | None:
        """What `result_id` says if it was issued to this client under one of the keys, else None. Cheap on
        anything hostile: the length is checked before anything else reads it."""
        if not isinstance(result_id, str) or len(result_id) != RESULT_ID_CHARS or not _ID_PATTERN.fullmatch(result_id):
            return None
        try:
            raw = base64.urlsafe_b64decode(result_id[len(PREFIX) :])
        except (binascii.Error, ValueError):
            return None
        token, issued, mac = raw[:_RANDOM_BYTES], raw[_RANDOM_BYTES:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not any(hmac.compare_digest(mac, _mac(key, client, token + issued)) for key in self._keys):
            return None
        return IssuedId(token, struct.unpack(">I", issued)[0])


def _mac(key: bytes, client: str, message: bytes) -> bytes:
    # The client's length first, so that no (client, token) pair reads as another; surrogates (which no client
    # name should hold) are encoded rather than refused: checking an id never raises.
    name = client.encode("utf-8", "surrogatepass")
    signed = _MAC_CONTEXT + struct.pack(">I", len(name)) + name + message
    return hmac.new(key, signed, hashlib.sha256).digest()[:_MAC_BYTES]


def long_past(issued: IssuedId, now: float, ttl: float) -> bool:
    """Whether an id is old enough that its answer has surely expired, without looking (the issue time is the
    put's, rounded down to the second)."""
    return now >= issued.issued_at + 1 + ttl


def check_caps(ttl: float, per_client: int, total: int) -> None:
    if ttl <= 0 or not 0 < per_client <= total:
        raise ValueError("the time-to-live and the caps must be positive, and a client's cap no larger than the total")


@dataclass(frozen=True, slots=True)
class _Kept:
    stored: StoredResult
    client: str
    kept_at: float
    size: int


class MemoryResultStore:
    """The answers in this process, in put order: one ordered table for all (the oldest overall goes first under
    the total cap, and expired answers are swept from its front on every put) and one per client (its own
    oldest goes first under its cap)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        ttl: float = RESULT_TTL_SECONDS,
        per_client: int = MAX_RESULT_BYTES_PER_CLIENT,
        total: int = MAX_RESULT_BYTES,
        ids: ResultIds | None = None,
    ) -> None:
        check_caps(ttl, per_client, total)
        self._clock = clock
        self._ttl = ttl
        self._per_client = per_client
        self._total = total
        self._ids = ids or ResultIds.random()
        self._all: OrderedDict[tuple[str, bytes], _Kept] = OrderedDict()
        self._clients: dict[str, OrderedDict[bytes, _Kept]] = {}
        self._client_bytes: dict[str, int] = {}
        self._bytes = 0
        self._origins: OrderedDict[tuple[str, bytes], tuple[Origin, float]] = OrderedDict()

    @property
    def held_bytes(self) -> int:
        """What the answers kept now are charged, in all."""
        return self._bytes

    async def put(self, client: str, stored: StoredResult) -> str | None:
        size = stored.charged_bytes
        if size > self._per_client:
            return None
        now = self._clock()
        self._sweep(now)
        own = self._clients.get(client)
        while own and self._client_bytes[client] + size > self._per_client:
            self._drop(client, next(iter(own)))
        while self._all and self._bytes + size > self._total:
            self._drop(*next(iter(self._all)))
        result_id, issued = self._ids.issue(client, now)
        kept = _Kept(stored, client, now, size)
        self._all[(client, issued.token)] = kept
        self._clients.setdefault(client, OrderedDict())[issued.token] = kept
        self._client_bytes[client] = self._client_bytes.get(client, 0) + size
        self._bytes += size
        self._origins[(client, issued.token)] = (Origin.of(stored), now)
        while len(self._origins) > MAX_ORIGINS:
            self._origins.popitem(last=False)
        return result_id

    async def origin(self, client: str, result_id: str) -> Origin | None:
        issued = self._ids.check(client, result_id)
        kept = None if issued is None else self._origins.get((client, issued.token))
        if kept is None or self._clock() >= kept[1] + ORIGIN_TTL_SECONDS:
            return None
        return kept[0]

    async def get(self, client: str, result_id: str) -> StoredResult | Missing:
        issued = self._ids.check(client, result_id)
        if issued is None:
            return Missing.UNKNOWN
        now = self._clock()
        own = self._clients.get(client)
        kept = None if own is None else own.get(issued.token)
        if kept is None:
            return Missing.EXPIRED
        if now >= kept.kept_at + self._ttl:
            self._drop(client, issued.token)
            return Missing.EXPIRED
        return kept.stored

    def _sweep(self, now: float) -> None:
        """Drop every expired answer: all answers share one time-to-live, so they are the oldest, at the front."""
        while self._all:
            (client, token), kept = next(iter(self._all.items()))
            if now < kept.kept_at + self._ttl:
                return
            self._drop(client, token)

    def _drop(self, client: str, token: bytes) -> None:
        kept = self._all.pop((client, token))
        own = self._clients[client]
        del own[token]
        self._bytes -= kept.size
        self._client_bytes[client] -= kept.size
        if not own:
            del self._clients[client]
            del self._client_bytes[client]
