"""latteprov's benchmark suite: ``python -m benchmarks --tier M`` (see docs/performance.md)."""
