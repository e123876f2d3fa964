"""Alembic runs inside trimtab's own connection; there is no alembic.ini."""

from alembic import context

from trimtab.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    # engine.upgrade() notes each migration applied, to name the one that failed.
    on_version_apply=context.config.attributes.get("on_version_apply"),
)
with context.begin_transaction():
    context.run_migrations()
