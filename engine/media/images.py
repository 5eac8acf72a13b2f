"""Images: embeddings from an open_clip model loaded from a checkpoint the user supplies (no package
ships CLIP weights; nothing is downloaded), kept in the `images` table and their own faiss index,
searched by text. open-clip-torch is an optional extra (`images`): its torchvision must match torch
(README), so the default install never pulls it."""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..workspace.derived import derived
from ..workspace.embed import ModelUnavailable
from ..workspace.store import Workspace, WorkspaceError, dumps

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
INSTALL = "pip install 'pilang[images]' (open-clip-torch with a torchvision built for the installed torch)"
_lock = threading.Lock()
_models: dict[str, Any] = {}


def load(name: str, checkpoint: str | Path, config: str | Path | None = None) -> tuple[Any, Any, Any]:
    """(model, preprocess, tokenizer) for an open_clip architecture (`config`: a model-config JSON for
    one open_clip does not know) with the weights in `checkpoint`."""
    key = dumps([name, str(checkpoint), str(config)])
    with _lock:
        if key not in _models:
            if not Path(checkpoint).is_file():
                raise ModelUnavailable(f"no CLIP checkpoint at {checkpoint}")
            try:
                import open_clip
            except Exception as exc:  # ImportError, or torchvision failing beside this torch
                raise ModelUnavailable(f"images need open_clip ({INSTALL}): {exc}") from None
            if config is not None:
                open_clip.add_model_config(str(config))
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=str(checkpoint))
            model.eval()
            _models[key] = (model, preprocess, open_clip.get_tokenizer(name))
        return _models[key]


def spec(ws: Workspace, name: str | None = None, checkpoint: str | None = None, config: str | None = None) -> dict[str, Any]:
    """The image model to use: the one given (remembered in the workspace), else the remembered one."""
    if checkpoint:
        chosen = {"name": name or "ViT-B-32", "checkpoint": str(Path(checkpoint).resolve()),
                  "config": str(Path(config).resolve()) if config else None}
        with ws.transaction():
            ws.set_meta("image_model", dumps(chosen))
        return chosen
    saved = ws.get_meta("image_model")
    if not saved:
        raise WorkspaceError("no image model yet: give :checkpoint (an open_clip checkpoint file) and :model")
    return json.loads(saved)


def _unit(x: Any) -> np.ndarray:
    v = x.detach().float().numpy()
    return (v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-12)).astype(np.float32)


def _index_path(ws: Workspace) -> Path:
    return ws.path / "images.faiss"


def index(ws: Workspace) -> Any:
    """The image index (IDMap over exact inner product), rebuilt from the table when stale."""
    count = ws.count("images")
    return derived(ws, "images-index", lambda: _index(ws, count), key=count)


def _index(ws: Workspace, count: int) -> Any:
    import faiss
    path = _index_path(ws)
    idx = faiss.read_index(str(path)) if path.exists() else None
    if idx is None or idx.ntotal != count:
        rows = ws.db.execute("SELECT id, vector FROM images ORDER BY id").fetchall()
        dim = len(rows[0][1]) // 4 if rows else 1
        idx = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if rows:
            idx.add_with_ids(np.stack([np.frombuffer(r[1], np.float32) for r in rows]),
                             np.array([r[0] for r in rows], dtype=np.int64))
        from ..workspace.files import atomic_file
        with atomic_file(path) as tmp:
            faiss.write_index(idx, str(tmp))
    return idx


def ingest_images(ws: Workspace, paths: list[str | Path], name: str | None = None, checkpoint: str | None = None,
                  config: str | None = None) -> dict[str, Any]:
    """Embed every image file (folders searched) not yet in the workspace; idempotent by content hash."""
    import torch
    from PIL import Image
    chosen = spec(ws, name, checkpoint, config)
    model, preprocess, _ = load(chosen["name"], chosen["checkpoint"], chosen["config"])
    files = [f for p in map(Path, paths) for f in (sorted(p.rglob("*")) if p.is_dir() else [p])
             if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
    taken, skipped = 0, {}
    for f in files:
        digest = hashlib.sha1(f.read_bytes()).hexdigest()
        if ws.db.execute("SELECT 1 FROM images WHERE hash = ? AND model = ?", [digest, chosen["name"]]).fetchone():
            skipped["already in the workspace"] = skipped.get("already in the workspace", 0) + 1
            continue
        try:
            with Image.open(f) as img:
                rgb = img.convert("RGB")
        except OSError as exc:
            skipped[f"unreadable image ({exc.__class__.__name__})"] = skipped.get("unreadable image", 0) + 1
            continue
        with torch.no_grad():
            vec = _unit(model.encode_image(preprocess(rgb).unsqueeze(0)))[0]
        with ws.transaction():
            ws.db.execute("INSERT INTO images(path, hash, width, height, model, vector) VALUES (?, ?, ?, ?, ?, ?)",
                          [str(f.resolve()), digest, rgb.width, rgb.height, chosen["name"], vec.tobytes()])
        taken += 1
    index(ws)
    return {"files": len(files), "taken": taken, "skipped": skipped, "images": ws.count("images"), "model": chosen}


def search_images(ws: Workspace, text: str, k: int = 5) -> list[dict[str, Any]]:
    """The k images whose embeddings are closest to the text's, best first."""
    import torch
    chosen = spec(ws)
    model, _, tokenizer = load(chosen["name"], chosen["checkpoint"], chosen["config"])
    with torch.no_grad():
        q = _unit(model.encode_text(tokenizer([text])))
    idx = index(ws)
    if idx.ntotal == 0:
        return []
    scores, ids = idx.search(q, min(k, idx.ntotal))
    rows = {r[0]: r for r in ws.db.execute(f"SELECT id, path, width, height FROM images WHERE id IN"
                                          f" ({','.join('?' * len(ids[0]))})", [int(i) for i in ids[0]])}
    return [{"score": round(float(s), 4), "id": int(i), "path": rows[int(i)][1], "width": rows[int(i)][2],
             "height": rows[int(i)][3]} for s, i in zip(scores[0], ids[0]) if int(i) in rows]
