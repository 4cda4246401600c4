"""Benchmarks: the workflows under load (`make bench`, `make bench-tuning`) and the reports over
years of data (`make bench-reports`)."""
