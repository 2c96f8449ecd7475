"""A broker that enforces TLS and SASL, for the tests: embedded Tansu behind a proxy."""
