"""Everything one sandbox instance remembers: the account's budget, its APIs, tasks and login sessions."""

from __future__ import annotations

from parse_mcp.sandbox.clock import Clock
from parse_mcp.sandbox.config import SandboxConfig
from parse_mcp.sandbox.parsebot import catalog
from parse_mcp.sandbox.parsebot.limits import Account
from parse_mcp.sandbox.parsebot.registry import Registry
from parse_mcp.sandbox.parsebot.sessions import LoginLimiter, LoginSessions
from parse_mcp.sandbox.parsebot.tasks import TaskBoard


class SandboxState:
    def __init__(self, config: SandboxConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.started_at = clock.now()
        self.account = Account(config, clock)
        self.registry = Registry(catalog.ACCOUNT_APIS, catalog.CANONICAL_APIS)
        self.tasks = TaskBoard(clock, self.registry, catalog.ACCOUNT_APIS)
        self.sessions = LoginSessions(clock, config.session_ttl_seconds)
        self.logins = LoginLimiter(clock, config.login_attempts_per_hour)

    def settle(self) -> None:
        """Apply what the tasks that finished by now changed, before anything is read."""
        self.tasks.settle()
