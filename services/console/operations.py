"""Dead letters and GDAP: the pages, and their actions through the CLI's own functions
(services/ops/dead_letters.py, the notifier's and gdap-revoker's `retry_failed`)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from urllib.parse import urlencode

from aiokafka.errors import KafkaError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from services.console import queries, views
from services.console.auth import Principal
from services.console.context import Console
from services.console.web import not_found, read_form, render, url
from services.gdap_revoker import store as gdap_store
from services.notifier import store as notifier_store
from services.ops import dead_letters
from services.ops.topic_io import ReplayError

MAX_LISTED = 500
# A redrive's letters are read with one consumer and sent with one producer; the listing's
# select-all is the most a form posts (web.MAX_FORM_FIELDS is a little above).
MAX_REDRIVE = MAX_LISTED


def _visible(principal: Principal, letter: dead_letters.DeadLetter) -> bool:
    # A dead letter is a distributor's when its event names that distributor; one that
    # names none (a registry event, bytes that do not parse) only operators see.
    return principal.may_see(views.distributor_of(letter.value))


async def dead_letter_list(request: Request, console: Console, principal: Principal) -> Response:
    error = None
    try:
        # The reader's own letters, filtered as they are read: a distributor's are found
        # however many of others' are newer.
        letters, truncated = await dead_letters.newest_dead_letters(
            console.settings, lambda d: _visible(principal, d), MAX_LISTED
        )
    except (ReplayError, OSError, KafkaError) as exc:  # the broker away: a banner, not a 500
        letters, truncated, error = [], False, str(exc)
    now = datetime.now(UTC)
    shown = [(d, views.distributor_of(d.value), d.summary(now)) for d in reversed(letters)]
    return render(
        console,
        request,
        principal,
        "dead_letters.html",
        letters=shown,
        error=error,
        result=None,
        truncated=truncated,
        scanned=dead_letters.MAX_SCANNED,
    )


async def dead_letter(request: Request, console: Console, principal: Principal) -> Response:
    try:
        partition = int(request.path_params["partition"])
        offset = int(request.path_params["offset"])
        letter = await dead_letters.dead_letter_at(console.settings, offset, partition)
    except (ValueError, ReplayError):
        letter = None
    if letter is None or not _visible(principal, letter):
        return not_found(console, request, principal)
    return render(
        console,
        request,
        principal,
        "dead_letter.html",
        letter=letter,
        distributor=views.distributor_of(letter.value),
        headers=[(k, v.decode("utf-8", "replace") if v else "") for k, v in letter.headers],
        text=views.as_text(letter.value),
        hex=views.hex_dump(letter.value),
        problem=dead_letters.redrive_problem(letter),
    )


def _selection(values: list[str]) -> tuple[dict[int, list[int]], int]:
    """Form values "partition:offset" → offsets by partition, and how many were chosen;
    anything else is ignored."""
    chosen: dict[int, list[int]] = defaultdict(list)
    count = 0
    for value in values:
        partition, _, offset = value.partition(":")
        if partition.isdigit() and offset.isdigit() and len(value) <= 40:
            chosen[int(partition)].append(int(offset))
            count += 1
    return chosen, count


async def redrive(request: Request, console: Console, principal: Principal) -> Response:
    form = await read_form(request)
    chosen, count = _selection([v for v in form.getlist("letter") if isinstance(v, str)])
    dry_run = form.get("mode") != "redrive"
    if count > MAX_REDRIVE:
        return Response(
            f"at most {MAX_REDRIVE} dead letters per redrive", 400, media_type="text/plain"
        )
    try:
        # One consumer reads them all, whoever asks: a distributor's are checked as read.
        found, missing = await dead_letters.letters_at(console.settings, chosen)
        mine = [d for d in found if _visible(principal, d)]
        result = await dead_letters.redrive_letters(console.settings, mine, dry_run=dry_run)
    except (ReplayError, OSError, KafkaError) as exc:
        return Response(
            f"the dead-letter queue could not be read or written: {exc}",
            503,
            media_type="text/plain",
            headers={"Retry-After": "5"},
        )
    # Another's letter is reported as a missing one is: nothing to tell them apart by.
    refused = len(found) - len(mine) + (0 if principal.is_operator else len(missing))
    if principal.is_operator:
        result.missing = [f"{p}/{o}" for p, o in missing]  # type: ignore[list-item]
    if not dry_run:
        console.broker.forget()
    if not result.selected and not result.skipped:
        status = 404
    else:
        status = 200
    return render(
        console,
        request,
        principal,
        "redrive.html",
        status,
        result=result,
        dry_run=dry_run,
        refused=refused,
        prefix=console.settings.topic_prefix,
        chosen=[f"{d.partition}:{d.offset}" for d in result.selected],
    )


async def gdap(request: Request, console: Console, principal: Principal) -> Response:
    scope = principal.scope(request.query_params.get("distributor"))
    revoker = await console.pool(gdap_store.SCHEMA)
    notifier = await console.pool(notifier_store.SCHEMA)
    return render(
        console,
        request,
        principal,
        "gdap.html",
        revocations=await queries.terminations(revoker, scope),
        failed_terminations=await queries.terminations(revoker, scope, "failed"),
        failed_notifications=await queries.failed_notifications(notifier, scope),
        message=_done_message(request.query_params.get("done"), request.query_params.get("count")),
    )


async def retry_termination(request: Request, console: Console, principal: Principal) -> Response:
    form = await read_form(request)
    relationship_id = form.get("relationship_id")
    pool = await console.pool(gdap_store.SCHEMA)
    if not isinstance(relationship_id, str) or not relationship_id:
        return not_found(console, request, principal)
    mine = await queries.terminations(
        pool, principal.scope(None), "failed", relationship_id=relationship_id, limit=1
    )
    if not mine:
        return not_found(console, request, principal)
    count = await gdap_store.retry_failed(pool, relationship_id)
    return _done(request, "termination", count)


async def retry_notification(request: Request, console: Console, principal: Principal) -> Response:
    form = await read_form(request)
    notification_id = form.get("notification_id")
    pool = await console.pool(notifier_store.SCHEMA)
    if not isinstance(notification_id, str) or not notification_id:
        return not_found(console, request, principal)
    if not principal.may_see(await queries.notification_distributor(pool, notification_id)):
        return not_found(console, request, principal)
    count = await notifier_store.retry_failed(pool, notification_id)
    return _done(request, "notification", count)


# What a retry reports after its redirect: the page says only its own words, never text
# from the URL (anyone can send a reader a link with any `done`).
_DONE = {
    "termination": "{} termination(s) re-queued",
    "notification": "{} notification(s) re-queued",
}


def _done(request: Request, kind: str, count: int) -> Response:
    query = urlencode({"done": kind, "count": count})
    return RedirectResponse(url(request, "gdap") + "?" + query, 303)


def _done_message(kind: str | None, count: str | None) -> str | None:
    if kind not in _DONE or count is None or not count.isascii() or not count.isdigit():
        return None
    return _DONE[kind].format(int(count[:9]))
