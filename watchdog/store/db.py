"""Open the store: SQLite by default (WAL, one file), PostgreSQL by URL."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError
from sqlmodel import Session, SQLModel, create_engine

from watchdog.errors import ConfigError
from watchdog.redaction import redact_text, redact_url
from watchdog.store import models

DEFAULT_URL = "sqlite:///watchdog.db"


class Store:
    """A database engine plus the audit helper. Use `with store.session() as s:` for one transaction.

    By default the database and its tables are created on first use (the daemon). `create=False` opens an
    existing watchdog store and creates nothing (a mistyped path is an error, not an empty store);
    `read_only=True` also opens it read-only (the list, show and report commands)."""

    def __init__(self, url: str = DEFAULT_URL, *, create: bool = True, read_only: bool = False) -> None:
        url = normalize_url(url)
        create = create and not read_only
        self.url = url
        self.read_only = read_only
        sqlite = url.startswith("sqlite")
        file = _sqlite_file(url)
        if file is not None:
            if create:
                file.parent.mkdir(parents=True, exist_ok=True)
            elif not file.is_file():
                raise ConfigError(f"store {redact_url(url)} does not exist: check the path (`watchdog run` creates the store)")
        try:
            # pre-ping: a PostgreSQL restart costs one reconnect, not a failed step
            self.engine: Engine = create_engine(_engine_url(url, file, read_only), connect_args=_connect_args(url, read_only),
                                                pool_pre_ping=not sqlite)
        except (ArgumentError, NoSuchModuleError, ModuleNotFoundError) as exc:
            hint = "install the PostgreSQL driver: pip install 'defi-watchdog[postgres]'" if url.startswith("postgresql") \
                else "use sqlite:///PATH or a postgresql:// URL (user, password, host and database)"
            raise ConfigError(f"store url {redact_url(url)} cannot be used ({type(exc).__name__}): {hint}") from None
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_read_only_pragmas if read_only else _sqlite_pragmas)
        try:
            if create:
                SQLModel.metadata.create_all(self.engine)
            elif not inspect(self.engine).has_table(models.Checkpoint.__tablename__):
                raise ConfigError(f"store {redact_url(url)} holds no watchdog tables: point --store (or [store] url) at "
                                  "the store `watchdog run` writes")
        except DatabaseError as exc:  # unreachable server, wrong password, a file that is not SQLite...
            self.engine.dispose()
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise ConfigError(f"store {redact_url(url)} cannot be opened ({redact_text(reason)}): check the URL, that it "
                              "is a watchdog store and that the database server is running") from None

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


def _sqlite_file(url: str) -> Path | None:
    """The database file of a sqlite:/// URL (None for another database or an in-memory one)."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0]).expanduser()


def _engine_url(url: str, file: Path | None, read_only: bool) -> str:
    if file is not None and read_only:  # SQLite's own read-only mode: no write can reach the file
        return f"sqlite:///file:{quote(str(file.resolve()))}?mode=ro&uri=true"
    return url


def _connect_args(url: str, read_only: bool) -> dict[str, object]:
    if url.startswith("sqlite"):
        return {"timeout": 30}
    if url.startswith("postgresql") and read_only:
        return {"options": "-c default_transaction_read_only=on"}
    return {}


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_read_only_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
