"""Wrong keys on the API and the console's sign-in: after a few, 429 with Retry-After for
that client address, the right key included, while other clients go on. In process (httpx's
ASGI transport names the client address); every refusal comes before any server is used."""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import SecretStr

from services.api.app import create_app
from services.common.sign_in_attempts import FREE_FAILURES
from services.settings import Settings

KEY = "k-attempts-eu-7d1c3b5a9e2f4d60"
OPERATOR = "op-attempts-4b6d8f0a2c4e6a81"
WRONG = "k-attempts-wrong-0000000000000"


@pytest.fixture
def app():
    return create_app(
        Settings(
            api_keys=SecretStr(f"{KEY}=dist-eu-1"),
            operator_keys=SecretStr(OPERATOR),
            console_secret=SecretStr("s" * 40),
            api_rate_per_key=0,
        )
    )


def client(app, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://api")


@pytest.mark.parametrize(
    "path", ["/v1/partners/1234567/explanation", "/v1/partners/validateresellers"]
)
async def test_the_api_locks_an_address_out_after_a_few_wrong_keys(app, path):
    method = "POST" if path.endswith("validateresellers") else "GET"
    async with client(app, "203.0.113.7") as attacker, client(app, "198.51.100.2") as other:
        answers = []
        for n in range(FREE_FAILURES + 5):
            r = await attacker.request(
                method, path, headers={"Authorization": f"Bearer {WRONG}{n}"}, json={}
            )
            answers.append(r.status_code)
        assert answers[:FREE_FAILURES] == [401] * FREE_FAILURES
        assert set(answers[FREE_FAILURES + 1 :]) == {429}
        locked = await attacker.request(
            method, path, headers={"Authorization": f"Bearer {KEY}"}, json={}
        )
        assert locked.status_code == 429  # the right key too: guessing gains nothing
        assert int(locked.headers["Retry-After"]) >= 1
        assert locked.json()["code"] == "rate_limited"
        # Another client's wrong key is still just wrong.
        r = await other.request(method, path, headers={"Authorization": "Bearer nope"}, json={})
        assert r.status_code == 401


async def sign_in(c: httpx.AsyncClient, key: str) -> httpx.Response:
    page = await c.get("/console/sign-in")
    token = re.search(r'name="sign_in_token" value="([^"]+)"', page.text).group(1)
    return await c.post("/console/sign-in", data={"sign_in_token": token, "key": key})


async def test_the_console_locks_an_address_out_after_a_few_wrong_keys(app):
    async with client(app, "203.0.113.8") as attacker, client(app, "198.51.100.3") as other:
        answers = [(await sign_in(attacker, f"{WRONG}{n}")).status_code for n in range(14)]
        assert answers[:FREE_FAILURES] == [401] * FREE_FAILURES
        assert set(answers[FREE_FAILURES + 1 :]) == {429}
        locked = await sign_in(attacker, OPERATOR)
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) >= 1
        assert "signed in" not in locked.text.lower()
        assert (await sign_in(other, OPERATOR)).status_code == 303
