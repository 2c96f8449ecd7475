"""Partner Center: per-distributor credentials, Entra ID tokens and a resilient REST client.

`port.PartnerCenter` is what a service depends on; `client.PartnerCenterClient` is the real
thing and `standin` serves Microsoft's documented shapes on localhost for tests and dev.
"""
