"""Deterministic orchestration only: decisions and timers here, every side effect in activities/."""
