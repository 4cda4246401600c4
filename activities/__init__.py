"""Every side effect, as activity classes built once in worker.py with their dependencies injected."""
