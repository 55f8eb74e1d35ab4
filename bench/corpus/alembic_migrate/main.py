"""Alembic migrations shipped with the app, applied with command.upgrade to a fresh sqlite file."""
import os
import tempfile

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect

here = os.path.dirname(os.path.abspath(__file__))

with tempfile.TemporaryDirectory() as tmp:
    url = "sqlite:///" + os.path.join(tmp, "app.db")
    cfg = Config()
    cfg.set_main_option("script_location", os.path.join(here, "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "head")
    engine = create_engine(url)
    insp = inspect(engine)
    print("tables:", sorted(insp.get_table_names()))
    print("note columns:", [c["name"] for c in insp.get_columns("note")])
    with engine.connect() as conn:
        print("revision:", conn.exec_driver_sql("select version_num from alembic_version").scalar())
    command.downgrade(cfg, "base")
    print("after downgrade:", sorted(inspect(create_engine(url)).get_table_names()))
    engine.dispose()
