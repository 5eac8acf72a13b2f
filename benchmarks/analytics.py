"""Analytics quality and speed: topic coherence/diversity, anomalies around the Warframe hotfixes,
sentiment accuracy (vs the Steam recommend flag and the review-bombing hand labels, VADER beside
it), and wall time of each analytic on 1e4 and 1e5 messages."""
from __future__ import annotations

import csv
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from pilang_engine.analytics import reports
from pilang_engine.analytics.hodge import hodge
from pilang_engine.analytics.patterns import patterns
from pilang_engine.analytics.sentiment import model_for
from pilang_engine.analytics.topics import topics
from pilang_engine.data.datasets import DatasetMissing, dataset
from pilang_engine.ingestion.pipeline import ingest
from pilang_engine.workspace.embed import embedder
from pilang_engine.workspace.store import Workspace

HOTFIXES = {"Hotfix 38.0.6": "2025-01-09", "Hotfix 38.0.7": "2025-01-14"}


def _balanced(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score
    return float(balanced_accuracy_score(y, pred))


def warframe(ws: Workspace) -> None:
    t0 = time.perf_counter()
    out = topics(ws, {"source": "steam"})
    print(f"topics, Warframe reviews: {len(out['evidence']['topics'])} topics, in-sample NPMI {out['evidence']['coherence']['value']:+.3f},"
          f" diversity {out['evidence']['coherence']['diversity']:.3f} ({time.perf_counter() - t0:.1f} s)"
          f" [published BERTopic NPMI: 0.165 on 20 Newsgroups, 0.063 on tweets]")
    for t in out["evidence"]["topics"][:5]:
        print(f"    {t['size']:5d}  {t['label']}")
    found = reports.anomalies(ws, {"source": "steam", "since": "2024-12-23", "until": "2025-01-21"})
    flagged = {a["day"]: a["driver"] for a in found["evidence"]["anomalies"]}
    print(f"anomalies in the review window (5% false alarms per series): flagged {sorted(flagged)}")
    hits = 0
    for name, day in HOTFIXES.items():
        near = [d for d in flagged if abs((np.datetime64(d) - np.datetime64(day)).astype(int)) <= 1]
        hits += bool(near)
        print(f"    {name} ({day}): {'flagged ' + ', '.join(f'{d} ({flagged[d]})' for d in near) if near else 'not flagged'}"
              f" within one day")
    share = len(flagged) / found["evidence"]["days"]
    print(f"    hit rate around the dated changes {hits}/{len(HOTFIXES)}; by chance (a 3-day window holding one of"
          f" the {share:.0%} flagged days) {1 - (1 - share) ** 3:.2f}")
    model = model_for(ws)
    print(f"sentiment model: {model.kind}; held-out {model.score}")
    held = model.held_out  # the reviews the model never saw, and its predictions on them
    rows = ws.messages_by_id(held["ids"])
    y, ours = np.array(held["labels"]), np.array(held["predicted"])
    vader = _vader([rows[i]["text"] for i in held["ids"]])
    english = np.array(['"language":"english"' in rows[i]["meta"] for i in held["ids"]])
    print(f"sentiment vs the Steam recommend flag (held-out {len(y)} reviews, balanced accuracy):"
          f" embeddings {_balanced(y, ours):.3f}, VADER {_balanced(y, vader):.3f};"
          f" English only ({int(english.sum())}): embeddings {_balanced(y[english], ours[english]):.3f},"
          f" VADER {_balanced(y[english], vader[english]):.3f}")
    review_bombing(ws)


def _vader(texts: list[str]) -> np.ndarray:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    sia = SentimentIntensityAnalyzer()
    return np.array([int(sia.polarity_scores(t)["compound"] >= 0) for t in texts])


def review_bombing(ws: Workspace) -> None:
    """Polarity of hand-annotated review-bombing reviews: negativ/positiv bomb type is the label."""
    try:
        path = dataset("review-bombing-annotated") / "combined_final_annotation_all_projects.csv"
    except DatasetMissing as exc:
        print(f"review bombing: skipped ({exc})")
        return
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["is-review-bombing"] == "Ja" and r["review"].strip()]
    texts = [r["review"] for r in rows]
    y = np.array([int(r["review_bomb_type"] == "positiv") for r in rows])
    model = model_for(ws)
    X = embedder(ws.embed_model).encode(texts)
    ours = (2 * model.model.predict_proba(X)[:, 1] - 1 > 0).astype(int) if model.kind != "anchors" else \
        ((X @ model.pos - X @ model.neg) > 0).astype(int)
    print(f"sentiment vs the review-bombing hand labels ({len(rows)} annotated bombing reviews, "
          f"{int(y.sum())} positive): embeddings {_balanced(y, ours):.3f}, VADER {_balanced(y, _vader(texts)):.3f}"
          f" (balanced accuracy)")


def cyberpunk(ws: Workspace) -> None:
    t0 = time.perf_counter()
    out = topics(ws, {"source": "reddit"})
    print(f"topics, r/cyberpunkgame: {len(out['evidence']['topics'])} topics, in-sample NPMI {out['evidence']['coherence']['value']:+.3f},"
          f" diversity {out['evidence']['coherence']['diversity']:.3f} ({time.perf_counter() - t0:.1f} s)")
    for t in out["evidence"]["topics"][:5]:
        print(f"    {t['size']:5d}  {t['label']}")


def calibration(quick: bool) -> None:
    """The detector on simulated 90-day series (a weekly rhythm, wandering activity and mood, sampling
    noise): the share of series with no event that show any flagged day, and the share of injected
    one-day events of 4 robust SDs of the series itself flagged within a day."""
    from pilang_engine.analytics.anomalies import FALSE_ALARM, detect
    from pilang_engine.data.simulate import community_days
    rng = np.random.default_rng(0)
    n = 200 if quick else 2000
    null = [{f["series"] for f in detect(*community_days(rng))[0]} for _ in range(n)]
    rates = {s: float(np.mean([s in found for found in null])) for s in ("volume", "sentiment", "drift")}
    print(f"anomalies, {n} simulated 90-day series with no event (stated false-alarm rate {FALSE_ALARM:.0%} per series):"
          f" any flagged day in {', '.join(f'{s} {r:.1%}' for s, r in rates.items())} of series")
    for series in ("volume", "sentiment"):
        for size in (4.0, 6.0):
            hits = []
            for _ in range(n // 4):
                day = int(rng.integers(5, 85))
                flags, _ = detect(*community_days(rng, event=(day, series, size)))
                hits.append(any(abs(f["index"] - day) <= 1 and f["series"] == series for f in flags))
            print(f"    {series} event of {size:g} robust SDs: flagged within a day in {np.mean(hits):.1%} of {len(hits)}"
                  + (" (target 90%)" if size == 4.0 else ""))


def timings(n: int) -> None:
    from .ingest import synthetic_export
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.json"
        synthetic_export(path, n)
        ws = Workspace(Path(tmp) / "ws")
        ingest(ws, [path], progress=False)
        print(f"wall time on {n:,} messages:", end="", flush=True)
        for name, fn in (("volume", reports.volume), ("sentiment", reports.sentiment), ("anomalies", reports.anomalies),
                         ("forecast", reports.forecast), ("patterns", patterns), ("hodge", hodge), ("topics", topics)):
            t0 = time.perf_counter()
            fn(ws, {})
            print(f" {name} {time.perf_counter() - t0:.2f}s", end="", flush=True)
        print()


def run(quick: bool = False) -> None:
    calibration(quick)
    try:
        reviews = dataset("steam-reviews-warframe") / "review_230410.json"
        notes = dataset("patch-notes-warframe") / "patchlogs.json"
        posts = dataset("reddit-cyberpunkgame-posts") / "Posts.csv"
    except DatasetMissing as exc:
        print(f"skipped: {exc}")
        return
    if quick:
        timings(2_000)
        return
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "wf")
        ingest(ws, [reviews, notes], progress=False)
        warframe(ws)
        ws2 = Workspace(Path(tmp) / "cp")
        ingest(ws2, [posts], progress=False)
        cyberpunk(ws2)
    random.seed(0)
    for n in (10_000, 100_000):
        timings(n)
