"""The console's wiring: routes, static files, security headers. Mounted by the API app at
/console, so `porgate run api`, `porgate run all` and `porgate dev` serve it."""

from __future__ import annotations

import logging
import time

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from services.common.body_limit import BodyLimit
from services.common.sign_in_attempts import SignInAttempts
from services.console import operations, pages, registry, signin, transaction
from services.console.context import HERE, Console
from services.console.web import SecurityHeaders, guarded
from services.settings import Settings

log = logging.getLogger(__name__)

# The largest form a console page posts (a redrive's letters are its biggest) is a few KB;
# past this the body is refused while it streams in (services/common/body_limit.py).
MAX_FORM_BODY = 16 * 1024


def create_console(settings: Settings, attempts: SignInAttempts | None = None) -> Starlette:
    """`attempts`: the API's count of wrong keys, shared so that the two add up."""
    console = Console(
        settings, attempts or SignInAttempts(time.monotonic, settings.sign_in_free_failures)
    )

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
        middleware=[Middleware(SecurityHeaders), Middleware(BodyLimit, max_bytes=MAX_FORM_BODY)],
        exception_handlers={Exception: _internal_error},
    )
    app.state.console = console
    return app


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("console: unhandled error", extra={"path": request.url.path})
    return PlainTextResponse("internal error; the console's log says more", 500)
