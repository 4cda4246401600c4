"""SQLModel tables, the engine/session factory and Alembic migrations."""
