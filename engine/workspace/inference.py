"""Fast inference for the packaged sentence embedders.

The transformer, its mean pooling and the normalisation are converted once, offline, from the packaged model
files into an OpenVINO model in the cache; texts are tokenised by the model's own tokenizer.json and batched by a
token budget (a few long reviews per batch, many short chat lines), which is where most of the speed comes from.
Precisions:

- fp32: the same vectors as sentence-transformers' torch encode (cosine >= 0.99999 to it);
- bf16: on CPUs that compute bf16 natively (AVX512-BF16 / AMX); cosine to fp32 >= 0.9999 on every text measured,
  so its vectors are interchangeable with fp32 ones and share their cache key (`benchmarks/embedding.py`);
- int8: static quantisation by NNCF, calibrated on a sample of the workspace's own texts (attention and the
  feed-forward output projections left in float); its vectors move (mean cosine 0.998, minimum 0.986,
  recall@10 0.95 against fp32), so they are a model of their own, keyed by the calibration sample.

Without OpenVINO the embedder falls back to sentence-transformers' torch encode (fp32, or bf16 autocast where
native); on a CUDA machine it runs there in fp16 with a batch sized for the device."""
from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

PRECISIONS = ("auto", "fp32", "bf16", "int8")
TOKEN_BUDGET = 1024  # tokens per batch: measured fastest of 512-16384 on 2 cores (benchmarks/embedding.py)
MAX_BATCH = 256
CALIBRATION_TEXTS = 300  # the int8 calibration sample, drawn from the workspace
MIN_CALIBRATION = 64
# what int8 leaves in float: quantising attention (its scores over long texts) moved some review vectors to
# cosine 0.65 of fp32, and each feed-forward output projection (whose input, after GELU, has outlier
# channels) cost most of the rest; kept in float, mean cosine rose from 0.990 to 0.998 (benchmarks/embedding.py)
INT8_KEEPS = {"types": ("ScaledDotProductAttention",), "patterns": (r".*layer\.[0-9]+\.output\.dense.*",)}
RUNTIME_ENV = "PILANG_EMBED_RUNTIME"  # openvino | torch (default: openvino when installed, cuda when present)


from .embed import ModelUnavailable  # noqa: E402  (embed imports this module only when it loads a model)


class PrecisionUnavailable(ModelUnavailable):
    """A precision this installation cannot run (the message says what to install or use)."""


class TooFewTexts(PrecisionUnavailable):
    """int8 asked of a workspace without enough texts to calibrate on (yet)."""


def openvino() -> Any:
    # OpenVINO loads libtbb, which numba (UMAP, HDBSCAN) would then pick as its threading layer and warn about
    # at every fork; keep numba on the layers it used before
    os.environ.setdefault("NUMBA_THREADING_LAYER_PRIORITY", "omp workqueue tbb")
    try:
        import openvino as ov
    except ImportError:
        return None
    return ov


_CORE: Any = None


def core() -> Any:
    global _CORE
    if _CORE is None:
        _CORE = openvino().Core()
    return _CORE


def native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (OpenVINO's capability list; torch's check without it)."""
    if openvino() is not None:
        return "BF16" in core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    import torch
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def cuda_present() -> bool:
    """A CUDA device torch can use (torch is imported only where a driver is installed)."""
    if not os.path.exists("/proc/driver/nvidia/version") and not os.environ.get("CUDA_VISIBLE_DEVICES"):
        return False
    import torch
    return bool(torch.cuda.is_available())


def choose_runtime() -> str:
    forced = os.environ.get(RUNTIME_ENV, "").strip().lower()
    if forced:
        if forced not in ("openvino", "torch", "cuda"):
            raise PrecisionUnavailable(f"{RUNTIME_ENV}={forced!r}: expected openvino, torch or cuda")
        return forced
    if cuda_present():
        return "cuda"
    return "openvino" if openvino() is not None else "torch"


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise PrecisionUnavailable(f"unknown precision {precision!r} (known: {', '.join(PRECISIONS)})")


def resolve(precision: str, runtime: str) -> str:
    """The precision the vectors are computed in: auto is the fastest that meets the fidelity targets (bf16
    where native, else fp32; fp16 on a GPU); bf16 asked on a CPU without it runs as fp32 (the same vectors)."""
    check_precision(precision)
    if runtime == "cuda":
        return "int8" if precision == "int8" else "fp16"
    if precision == "int8":
        return "int8"
    if precision in ("auto", "bf16"):
        return "bf16" if native_bf16() else "fp32"
    return "fp32"


def vectors_key(name: str, precision: str, calibration: str | None = None) -> str:
    """The cache key of a model's vectors: fp32, bf16 and fp16 vectors are interchangeable (one key); int8
    vectors are another model, one per calibration sample."""
    if precision != "int8":
        return name
    return f"{name}/int8-{calibration}" if calibration else f"{name}/int8"


def calibration_id(hashes: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------- model files

def _st_config(folder: Path) -> tuple[int, bool]:
    """(max_seq_length, pooling is mean + normalise) from the sentence-transformers files."""
    config = json.loads((folder / "sentence_bert_config.json").read_text())
    modules = json.loads((folder / "modules.json").read_text())
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    normalised = any(m.get("type", "").endswith("Normalize") for m in modules)
    mean = bool(pooling.get("pooling_mode_mean_tokens")) and not any(
        v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens")
    return int(config.get("max_seq_length", 256)), mean and normalised


def _fingerprint(folder: Path) -> str:
    h = hashlib.sha256((folder / "config.json").read_bytes())
    for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        h.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return h.hexdigest()[:12]


def _models_root() -> Path:
    from .embed import cache_dir
    return cache_dir() / "models" / "openvino"


@contextlib.contextmanager
def _staged(target: Path) -> Any:
    """A fresh folder beside `target`, moved into place when the block succeeds: the model in the cache is
    whole or absent, and two processes building it at once each build their own (the first to finish wins)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    staging.chmod(0o755)
    try:
        yield staging
        from .files import kill_point
        kill_point("model-convert")
        try:
            staging.rename(target)
        except OSError:
            if not (target / "model.xml").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def converted(name: str, folder: Path) -> Path:
    """The fp32 OpenVINO model (transformer + mean pooling + normalisation) of a packaged model, converted
    from its files the first time and kept in the cache."""
    ov = openvino()
    target = _models_root() / f"{name}-{_fingerprint(folder)}-ov{ov.__version__.split('-')[0]}"
    if (target / "model.xml").exists():
        return target / "model.xml"
    import torch
    from transformers import AutoModel

    from .progress import step
    with step(f"converting {name} for OpenVINO (once)"), _staged(target) as staging:
        model = AutoModel.from_pretrained(str(folder)).eval()
        typed = "token_type_ids" in inspect.signature(model.forward).parameters

        class Pooled(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                extra = {"token_type_ids": torch.zeros_like(input_ids)} if typed else {}
                h = self.inner(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(h.dtype)
                mean = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(mean, p=2, dim=1)

        example = {"input_ids": torch.tensor([[0, 5, 6, 2], [0, 7, 2, 1]]),
                   "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])}
        shape = ov.PartialShape([-1, -1])
        with torch.no_grad(), _quiet():
            graph = ov.convert_model(Pooled(model), example_input=example,
                                     input=[("input_ids", shape, ov.Type.i64), ("attention_mask", shape, ov.Type.i64)])
        ov.save_model(graph, str(staging / "model.xml"), compress_to_fp16=False)
    return target / "model.xml"


def quantized(name: str, folder: Path, calibration: str, texts: Callable[[], list[str]]) -> Path:
    """The int8 model: NNCF's static quantisation of the fp32 model (transformer preset, mixed symmetric
    weights / asymmetric activations, SmoothQuant; INT8_KEEPS left in float), calibrated on `texts`, kept in
    the cache under the calibration sample's id."""
    fp32 = converted(name, folder)
    target = fp32.parent.parent / f"{fp32.parent.name}-int8v2-{calibration}"
    if (target / "model.xml").exists():
        return target / "model.xml"
    try:
        import nncf
    except ImportError:
        raise PrecisionUnavailable("int8 needs NNCF: pip install 'pilang[int8]'") from None
    import logging
    nncf.set_log_level(logging.ERROR)
    from .progress import step
    tokens = Tokens(folder)
    sample = texts()
    with step(f"calibrating int8 {name} on {len(sample)} of the workspace's texts (once)"), _staged(target) as staging:
        items = [tokens.feed(tokens.ids(sample[i:i + 8])) for i in range(0, len(sample), 8)]
        with _quiet():
            model = nncf.quantize(core().read_model(str(fp32)), nncf.Dataset(items),
                                  model_type=nncf.ModelType.TRANSFORMER, preset=nncf.QuantizationPreset.MIXED,
                                  subset_size=len(items), ignored_scope=nncf.IgnoredScope(
                                      types=list(INT8_KEEPS["types"]), patterns=list(INT8_KEEPS["patterns"]),
                                      validate=False))
        openvino().save_model(model, str(staging / "model.xml"), compress_to_fp16=False)
    return target / "model.xml"


@contextlib.contextmanager
def _quiet() -> Any:
    """Conversion and calibration print tracer warnings and progress of their own: ours is the step line."""
    import warnings
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


# ---------------------------------------------------------------------------------------------- running

class Tokens:
    """The model's own fast tokenizer (tokenizer.json), truncating at the model's max_seq_length; the same ids
    as sentence-transformers (which strips each text first)."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer
        self.max_length, _ = _st_config(folder)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_length)

    def ids(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch([t.strip() for t in texts])]

    @staticmethod
    def feed(ids: list[list[int]]) -> dict[str, np.ndarray]:
        width = max(len(i) for i in ids)
        tokens = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, seq in enumerate(ids):
            tokens[row, :len(seq)] = seq
            mask[row, :len(seq)] = 1
        return {"input_ids": tokens, "attention_mask": mask}


def batches(lengths: list[int], budget: int = TOKEN_BUDGET, most: int = MAX_BATCH) -> list[np.ndarray]:
    """Indices of texts grouped longest first, each group padded to its first text's length and holding at
    most `budget` tokens (at least one text, at most `most`)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    groups, i = [], 0
    while i < len(order):
        n = max(1, min(most, budget // max(1, lengths[order[i]])))
        groups.append(order[i:i + n])
        i += n
    return groups


class OpenVinoRunner:
    """One compiled OpenVINO model; encode() is safe to call from several threads (one request each)."""

    def __init__(self, xml: Path, folder: Path, precision: str, dim: int) -> None:
        hint = "bf16" if precision == "bf16" or (precision == "int8" and native_bf16()) else "f32"
        self.compiled = core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": hint})
        self.tokens, self.dim = Tokens(folder), dim
        self._local = threading.local()

    def encode(self, texts: list[str]) -> np.ndarray:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        ids = self.tokens.ids(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for group in batches([len(i) for i in ids]):
            out[group] = request.infer(self.tokens.feed([ids[j] for j in group]))[0]
        return out


class TorchRunner:
    """sentence-transformers' own encode: on the CPU in fp32 (bf16 autocast where native), or on a GPU in fp16
    with a batch sized by the device's memory."""

    def __init__(self, folder: Path, precision: str, device: str) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        self.model = SentenceTransformer(str(folder), device=device)
        self.batch = 64
        if device == "cuda":
            self.model.half()
            gib = torch.cuda.get_device_properties(0).total_memory / 2 ** 30
            self.batch = int(min(1024, max(64, 16 * gib)))
        self.autocast = precision == "bf16" and device == "cpu"

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if self.autocast else contextlib.nullcontext()
        with ctx:
            vecs = self.model.encode(texts, batch_size=self.batch, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        vecs = np.asarray(vecs, dtype=np.float32)
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)


def runner(name: str, folder: Path, precision: str, runtime: str, dim: int,
           calibration: str | None = None, texts: Callable[[], list[str]] | None = None) -> Any:
    """The object whose encode() computes `name`'s vectors in `precision` on `runtime`."""
    if runtime == "cuda":
        if precision == "int8":
            raise PrecisionUnavailable("int8 runs on the CPU (OpenVINO); on a GPU the embedder runs in fp16")
        return TorchRunner(folder, precision, "cuda")
    mean_pooled = _st_config(folder)[1]
    if runtime == "openvino" and openvino() is not None and mean_pooled:
        if precision == "int8":
            if not calibration or texts is None:
                raise PrecisionUnavailable("int8 is calibrated on a workspace's texts: choose it for a workspace")
            return OpenVinoRunner(quantized(name, folder, calibration, texts), folder, "int8", dim)
        return OpenVinoRunner(converted(name, folder), folder, precision, dim)
    if precision == "int8":
        raise PrecisionUnavailable("int8 needs OpenVINO and NNCF: pip install 'pilang[int8]'")
    return TorchRunner(folder, precision, "cpu")
