"""Alembic's environment for the audit store: run on the connection core/auditdb.py hands over."""

from alembic import context

from core.auditschema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
