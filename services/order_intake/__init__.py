"""order-intake: turns every order placed upstream into a POR validation request."""
