"""Scale-out: the ingestion stages as an Apache Beam pipeline (optional extra `beam`). Files are
parsed, batched per file, embedded by a DoFn holding the model, and written by a sink DoFn with the
same `store_batch` and `save_vectors` the in-process ingest uses; the graph, index and persona stages
then run once on the result (`finish`). Here it runs on the DirectRunner; the same pipeline takes
Dataflow or Flink options (README)."""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..workspace.store import Workspace
from . import formats as F
from .stages import Stage
from .pipeline import (
    BATCH,
    Report,
    expand,
    finish,
    ingesting,
    save_vectors,
    store_batch,
)

FILE_ERRORS = "file-errors"  # metric namespace: one counter per unreadable file, named by its message
COUNTED = {"messages": "messages", "changes": "changes", "events": "telemetry", "player rows": "player_facts"}


def parse(path: str, fmt: str | None) -> Iterator[tuple[str, list[Any]]]:
    """(file, up to BATCH records) for every batch of a file's records (format detected unless named):
    the unit every later stage, and each of the sink's transactions, works on."""
    batch: list[Any] = []
    try:
        form = F.get(fmt) if fmt else F.detect(Path(path))
        for rec in form.parse(Path(path)):
            batch.append(rec)
            if len(batch) >= BATCH:
                yield path, batch
                batch = []
    except (F.FormatError, OSError) as exc:  # a file that cannot be read is reported, as in-process; the rest go on
        from apache_beam.metrics import Metrics
        Metrics.counter(FILE_ERRORS, str(exc) if isinstance(exc, F.FormatError) else f"{path}: {exc}").inc()
    if batch:
        yield path, batch


def _dofns() -> tuple[type, type]:
    """The pipeline's DoFns (defined once apache_beam is importable)."""
    import apache_beam as beam

    class Embed(beam.DoFn):
        """Embeds the batch's texts with the workspace's model (loaded once per worker)."""

        def __init__(self, workspace: str) -> None:
            self.workspace = workspace

        def setup(self) -> None:
            self.encoder = Workspace(self.workspace).embedder()

        def process(self, element: tuple[str, list[Any]]) -> Iterator[tuple[str, list[Any], list[str], Any]]:
            from .pipeline import content_hash
            path, records = element
            texts = {content_hash(r.text): r.text for r in records if isinstance(r, (F.Message, F.Change))}
            hashes = list(texts)
            yield path, list(records), hashes, self.encoder.encode([texts[h] for h in hashes])

    class Sink(beam.DoFn):
        """Writes each batch and its vectors into the workspace (one transaction each)."""

        def __init__(self, workspace: str, fmt: str | None) -> None:
            self.workspace, self.fmt = workspace, fmt

        def setup(self) -> None:
            self.ws = Workspace(self.workspace)
            self.refs: dict[str, int] = {}

        def process(self, element: tuple[str, list[Any], list[str], Any]) -> Iterator[str]:
            path, records, hashes, vectors = element
            form = F.get(self.fmt) if self.fmt else F.detect(Path(path))
            report = Report()
            self.refs[path] = store_batch(self.ws, records, form, Path(path), self.refs.get(path), report, set())
            save_vectors(self.ws, self.ws.embedder().key, hashes, vectors)
            for reason, n in report.skipped.items():  # the driver reads these back into its report
                beam.metrics.Metrics.counter("skipped", reason).inc(n)
            yield path

        def teardown(self) -> None:
            self.ws.close()
    return Embed, Sink


def run(workspace: str | Path, paths: Iterable[str | Path], fmt: str | None = None,
        options: list[str] | None = None, stages: Sequence[Stage] | None = None) -> Report:
    """Ingest through a Beam pipeline (DirectRunner unless `options` say otherwise); same result as
    engine.ingest.ingest on the same files."""
    import logging
    root = logging.getLogger()
    level, root.level = root.level, logging.ERROR  # Beam's import warns about Google Cloud clients it will not use
    try:
        import apache_beam as beam
        from apache_beam.metrics.metric import MetricsFilter
        from apache_beam.options.pipeline_options import PipelineOptions
    finally:
        root.setLevel(level)
    started = time.perf_counter()
    ws = Workspace(workspace)
    with ingesting(ws):  # a search meanwhile leaves the rows this run is storing to it
        return _run(beam, MetricsFilter, PipelineOptions, ws, workspace, paths, fmt, options, started, stages)


def _run(beam: Any, MetricsFilter: Any, PipelineOptions: Any, ws: Workspace, workspace: str | Path,  # noqa: N803
         paths: Iterable[str | Path], fmt: str | None, options: list[str] | None, started: float, stages: Sequence[Stage] | None = None) -> Report:
    files = [str(p) for p in expand(paths)]
    before = {k: ws.count(t) for k, t in COUNTED.items()}
    vectors_before = ws.count("vectors")
    Embed, Sink = _dofns()
    opts = PipelineOptions(options or ["--runner=DirectRunner", "--direct_num_workers=1"])
    pipeline = beam.Pipeline(options=opts)
    (pipeline
     | "files" >> beam.Create(files)
     | "parse" >> beam.FlatMap(parse, fmt)
     | "embed" >> beam.ParDo(Embed(str(workspace)))
     | "store" >> beam.ParDo(Sink(str(workspace), fmt)))
    result = pipeline.run()
    result.wait_until_finish()
    report = Report(files=files)
    skipped = result.metrics().query(MetricsFilter().with_namespace("skipped"))["counters"]
    for counter in skipped:
        report.skip(counter.key.metric.name, "counted by the pipeline's workers", counter.committed or counter.attempted)
    report.errors += sorted(c.key.metric.name for c in result.metrics().query(
        MetricsFilter().with_namespace(FILE_ERRORS))["counters"])
    for kind, table in COUNTED.items():
        if ws.count(table) > before[kind]:
            report.taken[kind] = ws.count(table) - before[kind]
    report.embedded = ws.count("vectors") - vectors_before
    marks = ",".join("?" * len(files))
    refs = [r[0] for r in ws.db.execute(f"SELECT id FROM sources WHERE path IN ({marks})",
                                        [str(Path(f).resolve()) for f in files])] if files else []
    groups = {(col, v) for col in ("thread", "context") for (v,) in ws.db.execute(
        f"SELECT DISTINCT {col} FROM messages WHERE {col} IS NOT NULL AND source_ref IN ({','.join('?' * len(refs))})",
        refs)} if refs else set()
    finish(ws, groups, report, stages=stages)
    report.seconds = time.perf_counter() - started
    return report
