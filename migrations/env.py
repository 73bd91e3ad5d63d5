"""Alembic environment for Flask-Migrate: runs migrations on the app's engine and metadata."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
# disable_existing_loggers=False: an upgrade run inside a process (the tests, a worker) must not silence the
# loggers its modules already made (the log backends of mail and SMS, the rate limiter).
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

# Search structures that migrations create by hand and the models do not describe: the SQLite FTS5
# table (with its shadow tables) and the PostgreSQL GIN expression index. Autogenerate must leave them be.
HAND_MADE_TABLES = ("course_fts",)
HAND_MADE_INDEXES = {"ix_course_search_tokens_fts"}


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and name and name.startswith(HAND_MADE_TABLES):
        return False
    if type_ == "index" and name in HAND_MADE_INDEXES:
        return False
    return True


def _engine():
    return current_app.extensions["migrate"].db.engine


def _metadata():
    return current_app.extensions["migrate"].db.metadata


config.set_main_option("sqlalchemy.url", _engine().url.render_as_string(hide_password=False).replace("%", "%%"))


def run_migrations_offline():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=_metadata(),
        literal_binds=True,
        include_object=include_object,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def skip_empty(context_, revision, directives):
        # `flask db migrate` with no model change writes no empty revision.
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", skip_empty)
    conf_args.pop("render_as_batch", None)
    with _engine().connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=_metadata(),
            include_object=include_object,
            # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
            render_as_batch=connection.dialect.name == "sqlite",
            **conf_args,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
