"""Partner Center's conventions where no server is needed: a crash still answers in Partner
Center's error shape with the ids, the ids reach every log line, the document's generator
refuses an undocumented route."""

from __future__ import annotations

import logging

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from services.api.conventions import PartnerCenterConventions, locale_of
from services.api.docs import OPERATIONS
from services.api.openapi import openapi_document
from services.common.logs import RequestIdsFilter, request_ids


async def test_a_crash_answers_500_in_partner_centers_shape_with_the_ids(caplog):
    caplog.set_level(logging.INFO)

    async def boom(request):
        logging.getLogger("porgate.test").error("about to fail")
        raise RuntimeError("a defect")

    app = Starlette(
        routes=[Route("/boom", boom)], middleware=[Middleware(PartnerCenterConventions)]
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/boom", headers={"MS-CorrelationId": "c-1", "MS-RequestId": "r-1"})
    assert r.status_code == 500
    assert r.json() == {
        "code": "internal",
        "description": "internal error",
        "data": [],
        "source": "porgate",
    }
    assert (r.headers["ms-correlationid"], r.headers["ms-requestid"]) == ("c-1", "r-1")
    assert "a defect" not in r.text
    access = [rec for rec in caplog.records if rec.getMessage() == "api request"]
    assert [(rec.status, rec.correlation_id) for rec in access] == [(500, "c-1")]
    crash = next(rec for rec in caplog.records if rec.getMessage() == "unhandled API error")
    assert crash.exc_info is not None


def test_every_line_logged_while_serving_a_request_carries_its_ids():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    token = request_ids.set({"correlation_id": "c-2", "request_id": "r-2"})
    try:
        RequestIdsFilter().filter(record)
    finally:
        request_ids.reset(token)
    assert (record.correlation_id, record.request_id) == ("c-2", "r-2")


@pytest.mark.parametrize(
    ("headers", "locale"),
    [
        ({"x-locale": "ja-JP"}, "ja-JP"),
        ({"x-locale": "en-US", "accept-language": "ja"}, "en-US"),
        ({"accept-language": "ja-JP,en;q=0.5"}, "ja-JP"),
        ({"x-locale": " ", "accept-language": "ja"}, "ja"),
        ({}, None),
    ],
)
def test_x_locale_comes_before_accept_language(headers, locale):
    assert locale_of(headers) == locale


def _document(routes):
    return openapi_document(routes, OPERATIONS, title="t", version="1", description="d")


def test_the_generator_refuses_a_route_without_an_operation_and_one_without_a_route():
    async def endpoint(request):  # pragma: no cover - never called
        raise AssertionError

    served = [Route(path, endpoint, methods=list(ops)) for path, ops in OPERATIONS.items()]
    validate(_document(served))
    with pytest.raises(ValueError, match="undocumented routes.*/v1/secret"):
        _document([*served, Route("/v1/secret", endpoint, methods=["POST"])])
    with pytest.raises(ValueError, match="documented but not served.*/healthz"):
        _document([r for r in served if r.path != "/healthz"])
