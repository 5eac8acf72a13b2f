"""Speech: word error rate of Whisper tiny.en (int8, CPU) on the public-domain clips against their
transcripts, and transcription speed as a multiple of real time."""
from __future__ import annotations

import time

from pilang_engine.data.datasets import DatasetMissing, dataset
from pilang_engine.media import voice


def run(quick: bool = False) -> None:
    try:
        folder = dataset("speech-samples-public-domain")
    except DatasetMissing as exc:
        print(f"skipped: {exc}")
        return
    voice.model()  # loading is start-up, not transcription
    refs = voice.references(folder)
    clips = list(refs.items())[:2] if quick else list(refs.items())
    hyps, audio, spent = [], 0.0, 0.0
    for clip, ref in clips:
        t0 = time.perf_counter()
        heard = voice.transcribe(clip)
        spent += time.perf_counter() - t0
        audio += heard["duration"]
        hyps.append(heard["text"])
        print(f"    {clip.name}: WER {voice.word_error_rate([ref], [heard['text']]):.3f}  {heard['text'][:70]}")
    wer = voice.word_error_rate([r for _, r in clips], hyps)
    jfk = voice.transcribe(folder / "jfk.flac")["text"]
    print(f"LJ Speech ({len(clips)} clips, {audio:.1f} s of audio): WER {wer:.3f}; {audio / spent:.1f}x real time on the CPU")
    print(f"jfk.flac: {jfk}")
