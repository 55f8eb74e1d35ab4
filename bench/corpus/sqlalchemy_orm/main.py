"""SQLAlchemy 2 ORM on sqlite: models, relationships, queries, aggregates."""
from sqlalchemy import ForeignKey, String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    books: Mapped[list["Book"]] = relationship(back_populates="author")


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    year: Mapped[int]
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship(back_populates="books")


engine = create_engine("sqlite://")
Base.metadata.create_all(engine)
with Session(engine) as session:
    austen = Author(name="Austen", books=[Book(title="Emma", year=1815), Book(title="Persuasion", year=1817)])
    eliot = Author(name="Eliot", books=[Book(title="Middlemarch", year=1871)])
    session.add_all([austen, eliot])
    session.commit()
    rows = session.execute(select(Author.name, func.count(Book.id)).join(Book).group_by(Author.name).order_by(Author.name))
    print([tuple(r) for r in rows])
    print([b.title for b in session.scalars(select(Book).where(Book.year < 1850).order_by(Book.title))])
    print(session.get(Author, 2).books[0].title)
