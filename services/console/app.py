"""The console's wiring: routes, static files, security headers. Mounted by the API app at
/console, so `porgate run api`, `porgate run all` and `porgate dev` serve it."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from services.common.config import Settings
from services.console import operations, pages, registry, signin, transaction
from services.console.context import HERE, Console
from services.console.web import SecurityHeaders, guarded

log = logging.getLogger(__name__)


def create_console(settings: Settings) -> Starlette:
    console = Console(settings)

    def page(path: str, handler, methods=("GET",)) -> Route:
        return Route(path, guarded(console, handler), methods=list(methods))

    async def sign_in_page(request: Request) -> Response:
        return await signin.sign_in_page(request, console)

    async def sign_in(request: Request) -> Response:
        return await signin.sign_in(request, console)

    app = Starlette(
        routes=[
            Route("/sign-in", sign_in_page, methods=["GET"]),
            Route("/sign-in", sign_in, methods=["POST"]),
            page("/sign-out", signin.sign_out, ["POST"]),
            page("/", pages.overview),
            page("/transactions", pages.transactions),
            page("/transactions/{decision_id}", transaction.transaction),
            page("/transactions/{decision_id}/recheck", transaction.recheck, ["POST"]),
            page("/dead-letters", operations.dead_letter_list),
            page("/dead-letters/redrive", operations.redrive, ["POST"]),
            page("/dead-letters/{partition:int}/{offset:int}", operations.dead_letter),
            page("/resellers", registry.resellers),
            page("/resellers/recheck", registry.recheck_reseller, ["POST"]),
            page("/gdap", operations.gdap),
            page("/gdap/retry-termination", operations.retry_termination, ["POST"]),
            page("/gdap/retry-notification", operations.retry_notification, ["POST"]),
            page("/eligibility", registry.eligibility),
            page("/eligibility.csv", registry.eligibility_csv),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={Exception: _internal_error},
    )
    app.state.console = console
    return app


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("console: unhandled error", extra={"path": request.url.path})
    return PlainTextResponse("internal error; the console's log says more", 500)
