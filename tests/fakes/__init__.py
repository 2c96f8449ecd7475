"""In-memory fakes of porgate's ports, each passing the contract test its real side passes
(tests/contract/), so unit tests can trust them."""
