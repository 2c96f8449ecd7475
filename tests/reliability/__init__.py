"""Reliability: faults (crash, database, remote services, rebalance), hostile input, access."""
