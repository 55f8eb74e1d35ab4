"""An import-heavy command-line tool made mostly of pure-Python modules: argparse, the
SQLAlchemy ORM, Jinja2 and Pygments imported at the top level, and a little work with each.

Usage: main.py [NAME] [--dialect sqlite|postgresql]
"""

import argparse

import jinja2
import pygments
from pygments.formatters.terminal import TerminalFormatter
from pygments.lexers.sql import SqlLexer
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    posts: Mapped[list["Post"]] = relationship(back_populates="author")


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    author: Mapped[User] = relationship(back_populates="posts")


TEMPLATE = jinja2.Template("-- posts by {{ name }} ({{ dialect }}, pygments {{ version }})\n{{ sql }}\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cli-pure", description="Print the SQL for a query.")
    parser.add_argument("name", nargs="?", default="ada")
    parser.add_argument("--dialect", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args(argv)
    query = select(Post.title).join(Post.author).where(User.name == args.name).order_by(Post.id)
    dialect = {"sqlite": sqlite, "postgresql": postgresql}[args.dialect].dialect()
    sql = str(query.compile(dialect=dialect))
    text = TEMPLATE.render(name=args.name, dialect=args.dialect, version=pygments.__version__, sql=sql)
    print(pygments.highlight(text, SqlLexer(), TerminalFormatter()), end="")


if __name__ == "__main__":
    main()
