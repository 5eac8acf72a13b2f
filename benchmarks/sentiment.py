"""Sentiment: the packaged game-text model on every held-out set (reviews of 12 unseen games, chat of unseen
matches, complaint tweets to support accounts, pilang's slang set, the review-bombing hand labels) beside VADER,
TF-IDF + logistic regression trained on the same rows in this run, and the old anchor phrases; the languages it
scores; and what scoring costs at ingest (its share of the ingest time, measured on the Warframe reviews)."""
from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import numpy as np
from pilang_engine.analytics import sentiment as S
from pilang_engine.analytics import sentiment_training as T
from pilang_engine.data.datasets import DatasetMissing, dataset
from pilang_engine.ingestion.pipeline import ingest
from pilang_engine.workspace.store import Workspace

SYSTEMS = [("packaged", "packaged"), ("tfidf_lr", "TF-IDF+LR"), ("vader", "VADER"), ("anchors", "anchors")]


def table(report: dict) -> None:
    print(f"{'held-out set':58} {'n':>6}  " + "  ".join(f"{label:>10}" for _, label in SYSTEMS)
          + "   (balanced accuracy; negative recall / macro-F1 of the packaged model)")
    for name, scores in report.items():
        m = scores["packaged"]
        if "neutral_share" in m:
            print(f"{name:58} {m['n']:>6}  " + "  ".join(f"{scores[k]['neutral_share']:>10.3f}" for k, _ in SYSTEMS)
                  + "   (share read as neutral)")
            continue
        cells = "  ".join(f"{scores[k].get('balanced_accuracy', float('nan')):>10.3f}" for k, _ in SYSTEMS)
        vs = m["vs_best_baseline"]
        extra = f", 3-class macro-F1 {m['macro_f1_3']:.3f}" if "macro_f1_3" in m else ""
        print(f"{name:58} {m['n']:>6}  {cells}   {m['negative_recall']:.3f} / {m['macro_f1']:.3f}{extra};"
              f" {dict(ahead='AHEAD of', tied='TIED with', behind='BEHIND')[vs['verdict']]} the best baseline"
              f" ({vs['baseline']}: {vs['difference']:+.3f},"
              f" 95% paired bootstrap [{vs['interval'][0]:+.3f}, {vs['interval'][1]:+.3f}])")


def review_bombing() -> None:
    """Hand-annotated review-bombing reviews (their bomb type, negative or positive, is the label)."""
    try:
        path = dataset("review-bombing-annotated") / "combined_final_annotation_all_projects.csv"
    except DatasetMissing as exc:
        print(f"review bombing: skipped ({exc})")
        return
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["is-review-bombing"] == "Ja" and r["review"].strip()]
    texts = [r["review"] for r in rows]
    y = np.array([2 if r["review_bomb_type"] == "positiv" else 0 for r in rows])
    out = S.sentiment_of(texts)
    scored = np.array([o["probabilities"] is not None for o in out])
    P = np.array([list(o["probabilities"].values()) if o["probabilities"] else [np.nan] * 3 for o in out])
    ours = T.binary_scores(y[scored], P[scored, 0], P[scored, 2])
    vader = T.Baselines.vader([t for t, k in zip(texts, scored) if k])
    theirs = T.binary_scores(y[scored], vader[:, 0], vader[:, 2])
    print(f"review-bombing hand labels ({int(scored.sum())} of {len(rows)} reviews scored, {int((y == 2).sum())}"
          f" positive bombs): packaged {ours['balanced_accuracy']:.3f}, VADER {theirs['balanced_accuracy']:.3f}"
          f" (balanced accuracy; the rest are in languages without a scored model)")


def ingest_cost() -> None:
    """Scoring's share of ingest: the sentiment stage's seconds over the whole ingest's, same run."""
    try:
        reviews = dataset("steam-reviews-warframe")
    except DatasetMissing as exc:
        print(f"ingest cost: skipped ({exc})")
        return
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "wf")
        report = ingest(ws, [reviews], progress=False)
        stage = report.stage_seconds.get("sentiment", 0.0)
        print(f"ingest of the Warframe reviews: {report.seconds:.1f} s, of which sentiment {stage:.1f} s"
              f" ({stage / report.seconds:.1%}; target under 10%), {report.scored:,} texts scored"
              f" ({report.scored / max(stage, 1e-9):,.0f}/s), embedding {report.stage_seconds.get('embed', 0):.1f} s")


def run(quick: bool = False) -> None:
    card = S.packaged().card
    print(f"packaged model {S.packaged().version}: trained on {card['trained_on']}; languages with a sentiment:"
          f" {S.packaged().languages()}")
    try:
        for name in ("steam-reviews-multigame", "dota2-chat-attitude", "support-complaints-twitter"):
            dataset(name)
    except DatasetMissing as exc:
        print(f"skipped: {exc}")
        return
    if quick:
        rows = T.slang_set()
        P = S.packaged().proba([r["text"] for r in rows], np.zeros((len(rows), 384), np.float32),
                               [None] * len(rows))
        print(f"quick: the slang set read without vectors: {len(P)} rows")
        return
    table(T.shipped_report(log=lambda line: print(f"  ({line})", flush=True)))
    whole = card["held_out"].get("chat, whole set held out (a model trained without chat)")
    if whole:
        print(f"from the training run's card: chat held out whole (a model trained without chat)"
              f" {whole['packaged']['balanced_accuracy']:.3f}, TF-IDF+LR without chat"
              f" {whole['tfidf_lr']['balanced_accuracy']:.3f}, VADER {whole['vader']['balanced_accuracy']:.3f}")
    review_bombing()
    from pilang_engine.analytics.toxicity import packaged_toxicity
    for name, held in packaged_toxicity().card["held_out"].items():
        print(f"toxicity, {name}: ROC-AUC packaged {held['packaged']['roc_auc']:.3f}, TF-IDF+LR"
              f" {held['tfidf_lr']['roc_auc']:.3f}, VADER negativity {held['vader_negativity']['roc_auc']:.3f};"
              f" Brier {held['packaged']['brier']:.3f} (from the training run's card)")
    ingest_cost()
