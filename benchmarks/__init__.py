"""Benchmarks: build-time comparison with stock Pelican, page-weight budgets, Lighthouse."""
