"""The console's state: settings, sessions, templates, one pool per schema it reads."""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path

import asyncpg
import jinja2
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from services.common.db import create_pool
from services.common.sign_in_attempts import SignInAttempts
from services.console.auth import SESSION_COOKIE, Principal, Sessions
from services.console.broker import BrokerFigures
from services.console.remedies import Remedies
from services.domain.regions import RegionTable
from services.settings import Settings

HERE = Path(__file__).parent

log = logging.getLogger(__name__)


class Console:
    def __init__(self, settings: Settings, attempts: SignInAttempts) -> None:
        self.settings = settings
        self.attempts = attempts
        configured = settings.console_secret is not None and bool(
            settings.console_secret.get_secret_value()
        )
        if not configured and (settings.api_keys or settings.operator_keys):
            log.warning(
                "PORGATE_CONSOLE_SECRET is not set: console sessions are this process's only;"
                " with several API replicas, set the same secret on each"
            )
        secret = (
            settings.console_secret.get_secret_value()
            if configured and settings.console_secret is not None
            else secrets.token_urlsafe(32)
        )
        self.sessions = Sessions(
            settings.api_key_map(),
            settings.operator_key_list(),
            secret,
            settings.console_session_s,
        )
        self.regions = RegionTable.load(settings.region_overrides_file)
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.templates = Jinja2Templates(env=env)
        self.broker = BrokerFigures(settings)
        self.remedies = Remedies(settings, self.regions)
        self._pools: dict[str, asyncpg.Pool] = {}
        self._lock = asyncio.Lock()

    def principal(self, request: Request) -> Principal | None:
        return self.sessions.principal(request.cookies.get(SESSION_COOKIE))

    async def pool(self, schema: str) -> asyncpg.Pool:
        """The pool of one service's schema, opened at first use: a mounted app gets no
        lifespan of its own, and `porgate run api` without a console reader opens none."""
        if (pool := self._pools.get(schema)) is not None:
            return pool
        async with self._lock:
            if schema not in self._pools:
                self._pools[schema] = await create_pool(
                    self.settings.database_url,
                    schema,
                    min_size=0,
                    max_size=4,
                    # Optional filters are `$n IS NULL OR ...`: planned for their values,
                    # each query keeps its index (services/console/queries.py).
                    extra_settings={"plan_cache_mode": "force_custom_plan"},
                )
            return self._pools[schema]

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            await pool.close()
        await self.remedies.aclose()
