"""pytest collects pilang-level tests from tests/pil/*.pil (see PilFile)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pilang.datum import Pair, Span, Symbol
from pilang.errors import PilangError
from pilang.output.notation import write_string
from pilang.reader import read_file
from pilang.session import Session

CHECK, CHECK_ERROR, ASSERT = Symbol("check"), Symbol("check-error"), Symbol("assert")


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".pil" and file_path.parent.name == "pil":
        return PilFile.from_parent(parent, path=file_path)
    return None


class PilFile(pytest.File):
    """A .pil test table: `(check expr expected)`, `(check-error kind expr)` and `(assert ...)`
    forms are tests; any other form (definitions) runs, in order, before the tests after it."""

    def collect(self) -> Any:
        self.pil_session_ = None
        setup: list[tuple[Any, Span]] = []
        for form, span in read_file(self.path):
            if type(form) is Pair and form.car in (CHECK, CHECK_ERROR, ASSERT):
                name = f"line {span.line}: {write_string(form)[:70]}"
                yield PilItem.from_parent(self, name=name, form=form, span=span, setup=setup)
                setup = []
            else:
                setup.append((form, span))

    def pil_session(self) -> Session:
        if self.pil_session_ is None:
            self.pil_session_ = Session()
        return self.pil_session_


class PilItem(pytest.Item):
    def __init__(self, *, form: Any, span: Span, setup: list[tuple[Any, Span]], **kw: Any) -> None:
        super().__init__(**kw)
        self.form, self.span, self.before = form, span, setup

    def runtest(self) -> None:
        session = self.parent.pil_session()
        session.eval_forms(self.before)
        head, args = self.form.car, list(self.form.cdr)
        if head is CHECK:
            got = session.eval_datum(args[0], self.span)
            want = session.eval_datum(args[1], self.span)
            if not session.env["equal?"](got, want):
                raise PilFailure(f"{write_string(args[0])}\n  got:      {write_string(got)}\n"
                                 f"  expected: {write_string(want)}")
        elif head is CHECK_ERROR:
            try:
                got = session.eval_datum(args[1], self.span)
            except PilangError as err:
                if err.kind != args[0].name:
                    raise PilFailure(f"{write_string(args[1])}\n  raised {err.kind} error "
                                     f"({err.message}), expected a {args[0].name} error") from None
                return
            raise PilFailure(f"{write_string(args[1])}\n  returned {write_string(got)}, "
                             f"expected a {args[0].name} error")
        else:
            session.eval_forms([(self.form, self.span)])

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, PilFailure):
            return f"{self.span.file}:{self.span.line}: {excinfo.value}"
        if isinstance(excinfo.value, PilangError):
            return excinfo.value.render()
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.span.line - 1, self.name


class PilFailure(Exception):
    """A pilang-level check that did not hold."""


# ---- the shared real data sets ----------------------------------------------------------------

@pytest.fixture(scope="session")
def shared_data() -> Any:
    """dataset(name) -> Path; a missing data set skips the test, except under CI=true (a failure)."""
    import os

    from pilang_engine.data.datasets import DatasetMissing, dataset

    def find(name: str) -> Path:
        try:
            return dataset(name)
        except DatasetMissing as exc:
            if os.environ.get("CI") == "true":
                pytest.fail(f"shared data missing under CI: {exc}")
            pytest.skip(str(exc))
    return find


DEMO = Path(__file__).parent.parent / "examples" / "demo"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo community ingested once per test run; tests work on copies (see `demo_copy`)."""
    from pilang_engine.ingestion.pipeline import ingest
    from pilang_engine.workspace.store import Workspace
    path = tmp_path_factory.mktemp("demo-template") / "ws"
    ws = Workspace(path)
    report = ingest(ws, [DEMO], progress=False)
    assert not report.errors
    ws.close()
    return path


@pytest.fixture(scope="session")
def demo_copy(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """demo_copy(name) -> the path of a fresh copy of the ingested demo workspace."""
    import shutil

    def copy(name: str) -> Path:
        target = tmp_path_factory.mktemp(name) / "ws"
        shutil.copytree(demo_template, target)
        _copy_store(demo_template, target)
        return target
    return copy


def _copy_store(source: Path, target: Path) -> None:
    """With the suite run on PostgreSQL (PILANG_STORE='postgresql://.../{name}'), a workspace folder's
    copy gets a copy of its database too."""
    import os
    uri = os.environ.get("PILANG_STORE", "")
    if "{name}" not in uri:
        return
    from urllib.parse import urlsplit

    import psycopg

    from pilang_engine.workspace.store import store_uri
    from_db = urlsplit(store_uri(uri, source)).path.lstrip("/")
    to_db = urlsplit(store_uri(uri, target)).path.lstrip("/")
    with psycopg.connect(uri.replace("{name}", "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{to_db}"')
        conn.execute(f'CREATE DATABASE "{to_db}" TEMPLATE "{from_db}"')


@pytest.fixture(scope="session")
def demo_with_personas(demo_copy: Any) -> Any:
    """demo_with_personas(name) -> a fresh copy of the demo workspace with its personas found."""
    from pilang_engine.personas import clusters as personas
    from pilang_engine.workspace.store import Workspace

    def make(name: str) -> Any:
        ws = Workspace(demo_copy(name))
        personas.fit(ws)
        return ws
    return make


@pytest.fixture(scope="session")
def shared_workspace(shared_data: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """shared_workspace(data set, file) -> a fresh workspace with that shared file ingested."""
    from pilang_engine.ingestion.pipeline import ingest
    from pilang_engine.workspace.store import Workspace

    def make(name: str, file: str) -> Any:
        ws = Workspace(tmp_path_factory.mktemp(name) / "ws")
        ingest(ws, [shared_data(name) / file], progress=False)
        return ws
    return make


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real PostgreSQL with pgvector (the pgserver package), started once for the session and stopped
    after it. Missing pgserver skips outside CI and fails under CI=true."""
    import os
    import warnings
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")  # platformdirs, under pgserver
    try:
        import pgserver
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("pgserver is missing under CI: the PostgreSQL store's tests must run (pip install -e '.[test]')")
        pytest.skip("pgserver is not installed (pip install pgserver): the PostgreSQL store is not tested here")
    server = pgserver.get_server(tmp_path_factory.mktemp("postgres"), cleanup_mode="stop")
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: Any) -> Any:
    """make(name) -> the URI of a new, empty database `name` on the session's server (dropped first if there)."""
    def make(name: str) -> str:
        import psycopg
        base = postgres_server.get_uri()
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return base.replace("/postgres?", f"/{name}?", 1)
    return make


@pytest.fixture()
def postgres_uri(postgres_database: Any, request: pytest.FixtureRequest) -> str:
    """An empty database of its own on the session's server, for one test."""
    import re
    return postgres_database("t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:50])
