"""Benchmarks that need more data than a test should make (`make bench`)."""
