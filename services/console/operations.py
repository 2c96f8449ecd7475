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
from services.console.web import not_found, render, url
from services.gdap_revoker import store as gdap_store
from services.notifier import store as notifier_store
from services.ops import dead_letters
from services.ops.topic_io import ReplayError

MAX_LISTED = 500


def _visible(principal: Principal, letter: dead_letters.DeadLetter) -> bool:
    # A dead letter is a distributor's when its event names that distributor; one that
    # names none (a registry event, bytes that do not parse) only operators see.
    return principal.may_see(views.distributor_of(letter.value))


async def dead_letter_list(request: Request, console: Console, principal: Principal) -> Response:
    error = None
    try:
        letters = await dead_letters.list_dead_letters(console.settings, limit=MAX_LISTED)
    except (ReplayError, OSError, KafkaError) as exc:  # the broker away: a banner, not a 500
        letters, error = [], str(exc)
    now = datetime.now(UTC)
    shown = [
        (d, views.distributor_of(d.value), d.summary(now))
        for d in reversed(letters)
        if _visible(principal, d)
    ]
    return render(
        console, request, principal, "dead_letters.html", letters=shown, error=error, result=None
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


def _selection(values: list[str]) -> dict[int, list[int]]:
    """Form values "partition:offset" → offsets by partition; anything else is ignored."""
    chosen: dict[int, list[int]] = defaultdict(list)
    for value in values:
        partition, _, offset = value.partition(":")
        if partition.isdigit() and offset.isdigit():
            chosen[int(partition)].append(int(offset))
    return chosen


async def redrive(request: Request, console: Console, principal: Principal) -> Response:
    form = await request.form()
    chosen = _selection([v for v in form.getlist("letter") if isinstance(v, str)])
    dry_run = form.get("mode") != "redrive"
    result = dead_letters.RedriveResult()
    refused = 0
    for partition, offsets in sorted(chosen.items()):
        allowed = offsets
        if not principal.is_operator:
            # Read each one first: a distributor redrives only the letters it may see.
            allowed = []
            for offset in offsets:
                letter = await dead_letters.dead_letter_at(console.settings, offset, partition)
                if letter is not None and _visible(principal, letter):
                    allowed.append(offset)
                else:
                    refused += 1
        if not allowed:
            continue
        one = await dead_letters.redrive(
            console.settings, offsets=allowed, partition=partition, dry_run=dry_run
        )
        result.selected += one.selected
        result.skipped += one.skipped
        result.missing += one.missing
        result.sent += one.sent
    if not dry_run:
        console.broker.forget()
    if refused and not result.selected and not result.skipped:
        return not_found(console, request, principal)
    return render(
        console,
        request,
        principal,
        "redrive.html",
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
        message=request.query_params.get("done"),
    )


async def retry_termination(request: Request, console: Console, principal: Principal) -> Response:
    form = await request.form()
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
    return _done(request, f"{count} termination(s) re-queued")


async def retry_notification(request: Request, console: Console, principal: Principal) -> Response:
    form = await request.form()
    notification_id = form.get("notification_id")
    pool = await console.pool(notifier_store.SCHEMA)
    if not isinstance(notification_id, str) or not notification_id:
        return not_found(console, request, principal)
    if not principal.may_see(await queries.notification_distributor(pool, notification_id)):
        return not_found(console, request, principal)
    count = await notifier_store.retry_failed(pool, notification_id)
    return _done(request, f"{count} notification(s) re-queued")


def _done(request: Request, message: str) -> Response:
    return RedirectResponse(url(request, "gdap") + "?" + urlencode({"done": message}), 303)
