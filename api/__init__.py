"""FastAPI: starts, signals, updates and queries workflows; reads DB projections. Never imports activities."""
