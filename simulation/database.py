"""Each simulated system's own database.

By default a system keeps one SQLite file in the run's data directory. With
``EGOV_SIM_DATABASE_URL=postgresql://…`` it keeps its tables in a schema of that database named
after the run and the system (``egs_<run>_<system>``), so systems never share tables and two runs
in two folders never share state, on either engine.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from simulation.settings import Settings


def schema_name(settings: Settings, system: str) -> str:
    return "egs_" + settings.run_id + "_" + re.sub(r"[^a-z0-9]", "_", system.lower())


def _async_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


class Database:
    """The async engine and session factory of one system."""

    def __init__(self, settings: Settings, system: str) -> None:
        self.system = system
        self.schema: str | None = None
        if settings.database_url:
            url = _async_url(settings.database_url)
            if not url.startswith("postgresql"):
                raise ValueError(
                    "EGOV_SIM_DATABASE_URL must be a postgresql:// URL; leave it unset for SQLite"
                )
            self.schema = schema_name(settings, system)
            self.engine: AsyncEngine = create_async_engine(
                url,
                pool_pre_ping=True,
                connect_args={"options": f"-csearch_path={self.schema}"},
            )
        else:
            data_dir = settings.data_dir.expanduser().resolve()
            data_dir.mkdir(parents=True, exist_ok=True)
            path = data_dir / f"{system}.sqlite"
            self.engine = create_async_engine(
                f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 30}
            )
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)

    async def create_tables(self, metadatas: Iterable[MetaData]) -> None:
        """Create what is missing. Systems starting together may race to create the shared
        simulation store: the loser finds the tables there on its next attempt."""
        metadatas = list(metadatas)
        for attempt in range(5):
            try:
                async with self.engine.begin() as conn:
                    if self.schema:
                        await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
                        await conn.execute(text(f'SET search_path TO "{self.schema}"'))
                    for metadata in metadatas:
                        await conn.run_sync(metadata.create_all)
                return
            except (OperationalError, ProgrammingError, IntegrityError):
                if attempt == 4:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))

    async def drop_schema(self) -> None:
        """Remove this system's PostgreSQL schema (tests clean up with it)."""
        if self.schema:
            async with self.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - driver callback
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


async def drop_run(settings: Settings, systems: Iterable[str]) -> None:
    """Remove every PostgreSQL schema of a run (nothing to do on SQLite: delete the data dir)."""
    if not settings.database_url:
        return
    for name in systems:
        database = Database(settings, name)
        try:
            await database.drop_schema()
        finally:
            await database.dispose()
