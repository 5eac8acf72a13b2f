"""A large DiscordChatExporter export, streamed: peak memory of `pilang ingest` (records parsed by
ijson and stored in batches, embedding left out: a CPU embeds ~1,000 texts/s, days for millions of
messages) beside the baseline measured on the same file in the same run, json.load of the whole
document (what a whole-file parser holds before its first row). Each in its own process, peak RSS
from the kernel's accounting. Target: a 1 GB export under 1.5 GB peak."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INGEST = """
import sys
from pilang_engine.ingestion.pipeline import ingest
from pilang_engine.workspace.store import Workspace
r = ingest(Workspace(sys.argv[1]), [sys.argv[2]], progress=False, embed=False)
assert not r.errors, r.errors
print(r.taken["messages"])
"""
WHOLE = """
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
print(len(doc["messages"]))
"""
PEAK = "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); " \
       "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)"


def write_export(path: Path, size: int, channels: int = 200, seed: int = 5) -> int:
    """An export of about `size` bytes, written as it goes (never held whole): one channel's file as
    DiscordChatExporter writes it, messages in threads of replies so the graph stage has work."""
    from pilang_engine.data.simulate import OPENERS, PERSONAS
    rng = random.Random(seed)
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"guild": {"id": "1", "name": "big"}, "channel": {"id": "9", "name": "messages", "type": "GuildTextChat"},'
                ' "messages": [\n')
        while f.tell() < size:
            p = rng.choice(PERSONAS)
            text = f"{rng.choice(OPENERS)}{rng.choice(p.praise + p.complaints).format(t=rng.choice(p.topics))} #{n}"
            m = {"id": str(10**17 + n), "type": "Reply" if n % 3 else "Default",
                 "timestamp": f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00+00:00", "content": text,
                 "author": {"id": str(5000 + rng.randrange(20000)), "name": "x", "isBot": False, "roles": []},
                 "reactions": [], "mentions": [], "attachments": []}
            if n % 3:
                m["reference"] = {"messageId": str(10**17 + n - 1 - rng.randrange(min(n, 50)))}
            f.write(("," if n else "") + json.dumps(m) + "\n")
            n += 1
        f.write('], "messageCount": %d}\n' % n)
    return n


def peak(argv: list[str]) -> tuple[float, float, int]:
    """(peak RSS in MB, seconds, exit status) of a command in a fresh process."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, *argv], capture_output=True, text=True, check=True)
    out = done.stdout.split()
    if int(out[-1]) != 0:
        print("  " + "\n  ".join(done.stderr.strip().splitlines()[-5:]))
    return int(out[-2]) / 1024, time.perf_counter() - started, int(out[-1])


def run(quick: bool = False) -> None:
    size = int(os.environ.get("PILANG_BIG_MB", "20" if quick else "1024")) * 2**20
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.json"
        started = time.perf_counter()
        n = write_export(path, size)
        print(f"export: {path.stat().st_size / 2**20:,.0f} MB, {n:,} messages (written in {time.perf_counter() - started:.0f} s)")
        mb, seconds, code = peak([sys.executable, "-c", INGEST, str(Path(tmp) / "ws"), str(path)])
        print(f"  pilang ingest (streamed, no embedding): peak {mb:,.0f} MB in {seconds:,.0f} s"
              f" ({n / seconds:,.0f} messages/s); target < 1,536 MB for 1 GB" + ("" if code == 0 else f"; FAILED ({code})"))
        base_mb, base_s, base_code = peak([sys.executable, "-c", WHOLE, str(path)])
        print(f"  baseline json.load of the whole file: peak {base_mb:,.0f} MB in {base_s:,.0f} s"
              + ("" if base_code == 0 else f" (failed: {base_code})") + f"; ingest/baseline memory {mb / base_mb:.2f}")
