"""Images: a tiny CLIP-shaped checkpoint made here, loaded through open_clip, images embedded into
their own index and searched by text. Runs where open_clip imports (its torchvision must match torch)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pilang_engine.media import images
from pilang_engine.workspace.store import Workspace

try:
    import open_clip  # noqa: F401
    import torch
    OPEN_CLIP = None
except Exception as exc:  # torchvision failing to load beside this torch raises RuntimeError, not ImportError
    OPEN_CLIP = f"open_clip does not import here ({exc.__class__.__name__}: {str(exc)[:80]}); see docs/images.md"

needs_open_clip = pytest.mark.skipif(OPEN_CLIP is not None, reason=OPEN_CLIP or "")
TINY = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("clip")
    config = folder / "tiny-clip.json"
    config.write_text(json.dumps(TINY))
    open_clip.add_model_config(str(config))
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-clip")
    torch.save({"state_dict": model.state_dict()}, folder / "tiny-clip.pt")
    return folder / "tiny-clip.pt", config


@needs_open_clip
def test_images_are_embedded_indexed_and_searched(checkpoint: tuple[Path, Path], tmp_path: Path) -> None:
    from PIL import Image
    pics = tmp_path / "pics"
    pics.mkdir()
    for name, colour in (("red", (255, 0, 0)), ("green", (0, 255, 0)), ("blue", (0, 0, 255))):
        Image.new("RGB", (48, 40), colour).save(pics / f"{name}.png")
    (pics / "notes.txt").write_text("not an image")
    ws = Workspace(tmp_path / "ws")
    out = images.ingest_images(ws, [pics], "tiny-clip", str(checkpoint[0]), str(checkpoint[1]))
    assert out["taken"] == 3 and out["files"] == 3 and (ws.path / "images.faiss").exists()
    assert images.ingest_images(ws, [pics])["skipped"] == {"already in the workspace": 3}  # remembered model
    hits = images.search_images(ws, "a red square", k=3)
    assert sorted(Path(h["path"]).name for h in hits) == ["blue.png", "green.png", "red.png"]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    model, preprocess, tokenizer = images.load("tiny-clip", str(checkpoint[0]), str(checkpoint[1]))
    with torch.no_grad():
        text = images._unit(model.encode_text(tokenizer(["a red square"])))[0]
        red = images._unit(model.encode_image(preprocess(Image.open(pics / "red.png").convert("RGB")).unsqueeze(0)))[0]
    score = next(h["score"] for h in hits if h["path"].endswith("red.png"))
    assert np.isclose(score, float(text @ red), atol=1e-4)  # the index holds what the model computes


def test_a_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    from pilang_engine.workspace.embed import ModelUnavailable
    with pytest.raises(ModelUnavailable, match="no CLIP checkpoint at"):
        images.load("ViT-B-32", tmp_path / "nope.pt")
