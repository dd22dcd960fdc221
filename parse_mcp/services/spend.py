"""The spend gate: a request that costs credits reserves its expected cost in the ledger before it is sent, and
settles it to what it cost once the answer comes (or gives it back when nothing was sent).

What counts as spent (README, "Spend control"):
- Parse.bot: what the service says each call cost, `X-Credits-Charged`. A build or a revision is charged when it
  completes, after the answer that accepted it, so an accepted one counts at least its documented price.
- ScraperAPI AI Parser: its documented prices (30,000 credits to create a parser; 1 to parse a page, 10 with
  render or premium proxies, 25 with both), charged on success only.
A failure counts what its answer says it charged, else nothing.

What a call is expected to cost, before it is sent: the ledger's last charge for that endpoint, else the price a
marketplace listing gives, else the documented price, else 1 credit. While an endpoint's price is unknown and a
limit applies, one call at a time goes (the ledger says `LearnFirst` to the others, who wait for the first charge).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from parse_mcp.errors import CallFailed, RejectedLocally, TransportFailure
from parse_mcp.guidance import refusals
from parse_mcp.meta import Meta
from parse_mcp.policy.caller import current_client, current_tool
from parse_mcp.policy.deadline import time_left
from parse_mcp.runtime import REAL_TIME, Runtime
from parse_mcp.services.http import Reply
from parse_mcp.state.ledger import Call, LearnFirst, Ledger, Refused, Reservation, Service, unreserved

# Documented prices (README, "Spend control", says where each comes from).
PARSER_CREATE_CREDITS = 30_000
PARSE_CREDITS = 1
PARSE_RENDER_OR_PREMIUM_CREDITS = 10
PARSE_RENDER_AND_PREMIUM_CREDITS = 25
BUILD_CREDITS = 75  # one measured private build (parsebot-api.md, section 8)
UNKNOWN_PRICE_CREDITS = 1
# The largest charge one answer is believed to have cost: far above any plan (a month is thousands of credits), far
# below what a 64-bit integer column holds.
MOST_CREDITS_BELIEVED = 1_000_000_000
# A request needs at least this long once it is let through; a wait for the first charge that leaves less is not
# taken (the same rule as the pacer's).
_MIN_REQUEST_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Charge:
    """What a paid request is recorded under, and how its cost is read from the answer."""

    service: Service
    api: str
    endpoint: str
    price: int = UNKNOWN_PRICE_CREDITS  # listed or documented: the estimate while the ledger has seen no charge
    # Parse.bot's `X-Credits-Charged` is the charge; the AI Parser sends none, and its documented price counts.
    told_by_header: bool = True
    # A build is charged after the answer that accepts it: its answer's figure is not yet the charge.
    charged_later: bool = False

    def counted(self, meta: Meta | None, *, ok: bool) -> int:
        """The credits this answer cost, as recorded."""
        told = meta.credits_charged if meta is not None and self.told_by_header else None
        if told is not None:
            # A figure past any real charge is read as the most believed: a hostile header must not be able to
            # write a number the ledger's store cannot hold (and so stop every later write).
            told = min(told, MOST_CREDITS_BELIEVED)
        if told is not None and not (ok and self.charged_later):
            return math.ceil(told)
        if told is not None:
            return max(math.ceil(told), self.price)
        return self.price if ok else 0


def parse_price(render: bool, premium: bool) -> int:
    if render and premium:
        return PARSE_RENDER_AND_PREMIUM_CREDITS
    return PARSE_RENDER_OR_PREMIUM_CREDITS if render or premium else PARSE_CREDITS


class Spending:
    """The gate in front of every paid request of one service client."""

    def __init__(self, ledger: Ledger | None, runtime: Runtime = REAL_TIME) -> None:
        self._ledger = ledger
        self._runtime = runtime

    async def paid(self, charge: Charge, send: Callable[[], Awaitable[Reply]]) -> Reply:
        """Reserve, send (`send` answers a 2xx or raises `CallFailed`), then settle, or give back what was
        reserved when nothing was sent."""
        if self._ledger is None:
            return await send()
        ledger = self._ledger
        if ledger.limits.any_for(charge.service):
            reservation = await self._reserve(ledger, charge)
        else:  # nothing to hold back: the charge is only recorded, after the answer
            reservation = unreserved(self._call(charge), self._runtime.clock())
        try:
            reply = await send()
        except CallFailed as failure:
            if _never_sent(failure):
                await _shielded(ledger.release(reservation))
            else:
                await _shielded(ledger.settle(reservation, charge.counted(failure.meta, ok=False), failure.record.code))
            raise
        except BaseException:  # cancelled while in flight: it may have been charged, and the estimate says so
            await _shielded(ledger.settle(reservation, charge.price, None))
            raise
        await _shielded(ledger.settle(reservation, charge.counted(reply.meta, ok=True), None))
        return reply

    async def expected(self, charge: Charge) -> int:
        """What a call is expected to cost: the last charge seen for its endpoint, else its listed price."""
        if self._ledger is None:
            return charge.price
        seen = await self._ledger.last_charge(charge.service, charge.api, charge.endpoint)
        return seen if seen is not None else charge.price

    @staticmethod
    def _call(charge: Charge) -> Call:
        return Call(charge.service, current_tool(), charge.api, charge.endpoint, current_client())

    async def _reserve(self, ledger: Ledger, charge: Charge) -> Reservation:
        call = self._call(charge)
        while True:
            decided = await ledger.reserve(call, charge.price)
            if isinstance(decided, Reservation):
                return decided
            if isinstance(decided, Refused):
                raise RejectedLocally(
                    refusals.spend_limit_reached(
                        decided.limit,
                        decided.variable,
                        decided.limit_credits,
                        decided.used,
                        decided.estimate,
                        decided.retry_after_seconds,
                    )
                )
            if not self._time_for(decided):
                raise RejectedLocally(refusals.spend_price_unknown(decided.retry_after_seconds))
            await self._runtime.sleep(decided.retry_after_seconds)

    def _time_for(self, wait: LearnFirst) -> bool:
        left = time_left(self._runtime.clock())
        return left is None or wait.retry_after_seconds + _MIN_REQUEST_SECONDS <= left


def _never_sent(failure: CallFailed) -> bool:
    return isinstance(failure, RejectedLocally) or (isinstance(failure, TransportFailure) and not failure.reached)


async def _shielded(step: Awaitable[None]) -> None:
    # A charge is recorded even when the call is being cancelled: the ledger would otherwise hold its estimate.
    with anyio.CancelScope(shield=True):
        await step
