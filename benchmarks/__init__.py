"""porgate's benchmarks: throughput, latency and memory on the embedded servers, measured, never asserted.

`python3 -m benchmarks.run [--orders 50000] [--resellers 10000] [--quick]`; see benchmarks/README.md.
"""
