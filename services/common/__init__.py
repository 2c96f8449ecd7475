"""The thin shell every service shares: configuration, database, consumer runtime, logging."""
