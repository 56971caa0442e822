"""Alembic environment: migrations run on the connection safestreets hands over (db.upgrade)."""

from alembic import context

from safestreets.db.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
