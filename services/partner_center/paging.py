"""Following the relationships list's pages: where `links.next` points, and its
continuation token."""

from __future__ import annotations

import httpx

from services.partner_center.errors import Rejected
from services.partner_center.models import RelationshipPage

CONTINUATION_HEADER = "MS-ContinuationToken"


def next_page(
    base_url: str, distributor_id: str, page: RelationshipPage, response: httpx.Response
) -> tuple[str, str | None] | None:
    """The next page's URL and continuation token, from `links.next` (None on the last page)."""
    following = (page.links or {}).get("next")
    if not isinstance(following, dict) or not following.get("uri"):
        return None
    uri = str(following["uri"])
    token = response.headers.get(CONTINUATION_HEADER)
    for header in following.get("headers") or []:
        if isinstance(header, dict) and header.get("key") == CONTINUATION_HEADER:
            token = str(header.get("value"))
    if uri.startswith(("http://", "https://")):
        # The bearer token goes wherever the link points: only ever to Partner Center.
        if not uri.startswith(base_url + "/"):
            raise Rejected(distributor_id, "a next-page link points away from Partner Center")
        return uri, token
    # Microsoft's examples give links relative to the API root, with or without /v1.
    path = uri if uri.startswith("/") else f"/{uri}"
    return f"{base_url}{path if path.startswith('/v1/') else '/v1' + path}", token
