"""Open the store: SQLite by default (WAL, one file), PostgreSQL by URL."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlmodel import Session, SQLModel, create_engine

from watchdog.errors import ConfigError
from watchdog.store import models

DEFAULT_URL = "sqlite:///watchdog.db"


class Store:
    """A database engine plus the audit helper. Use `with store.session() as s:` for one transaction."""

    def __init__(self, url: str = DEFAULT_URL) -> None:
        url = normalize_url(url)
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        sqlite = url.startswith("sqlite")
        try:
            # pre-ping: a PostgreSQL restart costs one reconnect, not a failed step
            self.engine: Engine = create_engine(url, connect_args={"timeout": 30} if sqlite else {}, pool_pre_ping=not sqlite)
        except (ArgumentError, NoSuchModuleError, ModuleNotFoundError) as exc:
            hint = "install the PostgreSQL driver: pip install 'defi-watchdog[postgres]'" if url.startswith("postgresql") \
                else "use sqlite:///PATH or postgresql://USER@HOST/DB"
            raise ConfigError(f"store url {redacted(url)} cannot be used ({exc}): {hint}") from exc
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            SQLModel.metadata.create_all(self.engine)
        except OperationalError as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise ConfigError(f"store {redacted(url)} cannot be opened ({reason}): check the URL and that the database "
                              "server is running") from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def audit(self, actor: str, action: str, subject: str = "", **detail: object) -> None:
        with self.session() as s:
            s.add(models.AuditEntry(actor=actor, action=action, subject=subject, detail=detail))

    def close(self) -> None:
        self.engine.dispose()


def normalize_url(url: str) -> str:
    """postgres:// and postgresql:// mean the psycopg 3 driver (the `postgres` extra), not SQLAlchemy's psycopg2."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(malformed URL)"


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
