"""sercore benchmarks: model throughput, feature extraction and its cache, ``make book`` time,
and CTMAM against a direct, unoptimised implementation. Run ``benchmarks/run --help``.

Writes one JSON file (default ``results/benchmarks/benchmarks.json``) and, from it, the
book page ``book/_generated/benchmarks.md`` (see :mod:`sercore.bench_page`). Every number in the JSON is
measured by this run on the machine it records, except ``make_book.seconds``,
which is the wall time of a ``make book`` the caller measured and passed in
(``--make-book-seconds`` or ``results/benchmarks/make_book.json``).

Sections:

- ``models``: per registered preset, a training step (forward, cross-entropy,
  backward, Adam step) and inference (``eval()``, no grad) on random inputs
  shaped like the paper's (:mod:`bench_inputs`), in utterances per second, at the
  paper's batch size capped on CPU (both recorded); peak resident memory
  (VmHWM, reset before each model) and, on CUDA, ``max_memory_allocated``.
- ``features``: per extractor, utterances per second on the synthetic corpus
  (model loading timed apart), and a fresh cache's first (compute + write)
  versus second (read) extraction of the same utterances.
- ``ctmam_reference``: ours versus :mod:`ctmam_reference` (same parameters,
  per-head explicit softmax attention) on the same inputs.
- ``fast_path`` (CUDA only): fp32 versus bf16 autocast, channels-last and
  ``torch.compile`` on CTMAM training steps.
- ``encoders``: the text (MiniLM) and audio (GE2E) encoders one by one versus in
  length-sorted batches, back to back in this process (so machine load hits both), with
  the load average before and after; the largest difference between the two outputs;
  each beside its target (:data:`TARGETS`).
- ``threads`` (not in the defaults: it runs notebooks): one smoke notebook alone, then
  two at once through ``sercore fanout --executor local --max-parallel 2``; the slowdown
  per unit of work.
- ``make_book``: the measured totals, cold and warm (``--make-book-seconds``,
  ``--make-book-warm-seconds`` or ``results/benchmarks/make_book.json``), each
  chapter's share, every quick notebook's time and the leaderboard's (from
  ``results/``), each beside its target.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import bench_inputs as model_inputs  # noqa: E402  (benchmarks/bench_inputs.py)

CPU_BATCH_CAP = 32           # larger paper batches are timed at this size on CPU (recorded)
QUICK_BATCH_CAP = 2
MAKE_BOOK_TARGET_S = 8 * 60          # issue 18: `make book` from a clean clone, corpora in ../shared/data
CACHE_TARGET = 10.0
#: issue 18's targets, printed beside each measurement
TARGETS = {
    "make_book_cold_s": MAKE_BOOK_TARGET_S,
    "make_book_warm_s": 60,                # a second `make book` with nothing changed
    "leaderboard_s": MAKE_BOOK_TARGET_S / 3,   # our budget: a third of the book for the three boards
    "text_utt_per_s": 200,                 # MiniLM, sentences under 30 words, 2 CPU cores
    "meld_texts": 13708, "meld_text_s": 120,   # MELD's texts encoded in 2 minutes
    "ge2e_realtime": 20,                   # GE2E frames, times faster than real time, 2 CPU cores
    "fanout_per_unit_slowdown": 1.5,       # a notebook under a 2-worker fanout, per unit of work
}


# ----------------------------------------------------------------------------- machine

def machine_info(device: torch.device) -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cpu_model": _cpu_model(), "device": str(device),
            "cuda_available": torch.cuda.is_available(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}
    if device.type == "cuda":
        info.update(cuda=torch.version.cuda, gpu=torch.cuda.get_device_name(device),
                    bf16=torch.cuda.is_bf16_supported())
    try:
        import subprocess
        info["git_sha"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent,
                                         capture_output=True, text=True, timeout=10).stdout.strip() or None
    except Exception:
        info["git_sha"] = None
    return info


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter of this process (Linux ``clear_refs`` 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_mb(kind: str = "VmHWM") -> float | None:
    """Current (VmRSS) or peak since the last reset (VmHWM) resident memory, MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(kind + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# ----------------------------------------------------------------------------- timing

def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step, device, warmup: int, min_steps: int, min_s: float, max_steps: int = 50) -> dict:
    """Run ``step()`` ``warmup`` times, then at least ``min_steps`` times and ``min_s`` seconds."""
    for _ in range(warmup):
        step()
    _sync(device)
    n, t0 = 0, time.perf_counter()
    while n < min_steps or (time.perf_counter() - t0 < min_s and n < max_steps):
        step()
        n += 1
        if n >= min_steps:
            _sync(device)
    _sync(device)
    dt = time.perf_counter() - t0
    return {"steps": n, "seconds": round(dt, 4), "s_per_step": dt / n}


def _autocast(device, amp: str):
    if device.type != "cuda" or amp == "fp32":
        return torch.autocast(device_type=device.type, enabled=False)
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16)


def throughput(model, inputs, device, batch: int, *, warmup: int, min_steps: int, min_s: float,
               amp: str = "fp32", train: bool = True) -> dict:
    """Utterances per second of a training step (or of inference with ``train=False``)."""
    xs = [x.to(device) if torch.is_tensor(x) else x for x in inputs]
    y = torch.arange(batch, device=device) % _n_classes(model)
    if train:
        model.train()
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            with _autocast(device, amp):
                loss = F.cross_entropy(model(*xs).float(), y)
            loss.backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.no_grad(), _autocast(device, amp):
                model(*xs)
    r = time_steps(step, device, warmup, min_steps, min_s)
    r["utt_per_s"] = round(batch / r["s_per_step"], 2)
    r["s_per_step"] = round(r["s_per_step"], 5)
    return r


def _n_classes(model) -> int:
    cfg = getattr(model, "cfg", None)
    return int(getattr(cfg, "n_classes", 2) or 2)


def paper_batch_size(paper: str | None) -> tuple[int | None, str | None]:
    """The ``paper`` profile's batch size from ``params/<paper>/`` (IEMOCAP's file first)."""
    if paper is None:
        return None, None
    from sercore.runs import datasets_with_params, resolve

    dss = datasets_with_params(paper)
    for ds in sorted(dss, key=lambda d: (d != "iemocap", d)):
        bs = resolve(paper, ds, "paper").get("batch_size")
        if bs:
            return int(bs), f"params/{paper}/{ds}.yaml (paper profile)"
    return None, None


# ----------------------------------------------------------------------------- sections

def bench_models(names, device, quick: bool, timing: dict | None = None) -> list[dict]:
    from sercore import models
    from sercore.train import count_parameters

    cap = QUICK_BATCH_CAP if quick else (CPU_BATCH_CAP if device.type == "cpu" else None)
    timing = timing or (dict(warmup=1, min_steps=1, min_s=0.0) if quick else dict(warmup=2, min_steps=3, min_s=2.0))
    out = []
    for name in names:
        row = {"model": name, "paper": model_inputs.family(name)}
        try:
            paper_bs, src = paper_batch_size(row["paper"])
            batch = paper_bs or 32
            if cap:
                batch = min(batch, cap)
            row.update(paper_batch_size=paper_bs, batch_source=src or "no paper: 32", batch_used=batch)
            import gc
            gc.collect()
            rss0 = rss_mb("VmRSS")
            reset_peak_rss()
            if device.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            if getattr(models.preset(name), "mode", None) == "finetune":
                raise NotImplementedError("fine-tuning mode loads pretrained wav2vec 2.0 weights from the "
                                          "Hugging Face hub (not reachable here); its frozen-feature "
                                          "presets are timed instead")
            torch.manual_seed(0)
            model = models.create(name).to(device)
            row["parameters"] = count_parameters(model)
            inputs, note = model_inputs.example_inputs(name, model, batch)
            row["inputs"] = note
            row["train"] = throughput(model, inputs, device, batch, train=True, **timing)
            row["infer"] = throughput(model, inputs, device, batch, train=False, **timing)
            row["rss_before_mb"], row["peak_rss_mb"] = rss0, rss_mb("VmHWM")
            if device.type == "cuda":
                row["cuda_max_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
            del model
        except NotImplementedError as e:
            row["skipped"] = str(e)
        except Exception as e:   # one model failing must not hide the others
            row["error"] = f"{type(e).__name__}: {e}"
            row["traceback"] = traceback.format_exc(limit=3)
        out.append(row)
        _log(f"  model {name}: " + (f"train {row['train']['utt_per_s']} utt/s, infer {row['infer']['utt_per_s']} utt/s"
                                     if "train" in row else row.get("skipped") or row.get("error")))
    return out


def bench_features(extractors, quick: bool, data_root: str | None) -> dict:
    from sercore import experiment
    from sercore.features import FeatureCache, extract, get_extractor

    n_per_class = 1 if quick else 10
    corpus = experiment.prepare("synthetic", label_map="ser4", languages=["en"], n_per_class=n_per_class,
                                data_root=data_root)
    m = corpus.manifest
    dur = None
    if "duration" in m.columns:
        dur = round(float(m["duration"].sum()), 2)
    elif "path" in m.columns:
        try:
            import soundfile
            dur = round(sum(soundfile.info(str(p)).duration for p in m["path"]), 2)
        except Exception:
            dur = None
    res = {"corpus": f"synthetic (en), {len(m)} utterances" + (f", {dur} s of audio" if dur else ""),
           "utterances": len(m), "audio_seconds": dur, "cache_target": CACHE_TARGET, "extractors": []}
    rows = [r for _, r in m.iterrows()]
    for name in extractors:
        row = {"extractor": name}
        try:
            ext = get_extractor(name)
            t0 = time.perf_counter()
            ext(rows[0])                                   # loads the encoder, if any
            row["first_item_s"] = round(time.perf_counter() - t0, 3)
            t0 = time.perf_counter()
            extract(m, ext, cache=False, progress=False)
            dt = time.perf_counter() - t0
            row.update(seconds=round(dt, 3), utt_per_s=round(len(m) / dt, 2))
            if dur:
                row["audio_s_per_s"] = round(dur / dt, 1)
            with tempfile.TemporaryDirectory(prefix="sercore-bench-cache-") as tmp:
                cache = FeatureCache(tmp)
                first = extract(m, ext, cache=cache, progress=False)
                second = extract(m, ext, cache=cache, progress=False)
                row["cache"] = {"first_s": round(first.stats.seconds, 4), "first_misses": first.stats.misses,
                                "second_s": round(second.stats.seconds, 4), "second_hits": second.stats.hits,
                                "speedup": round(first.stats.seconds / max(second.stats.seconds, 1e-9), 1)}
                row["cache"]["meets_target"] = row["cache"]["speedup"] >= CACHE_TARGET
        except Exception as e:
            row["error"] = f"{type(e).__name__}: {e}".splitlines()[0]
        res["extractors"].append(row)
        _log(f"  features {name}: " + (f"{row['utt_per_s']} utt/s, cache x{row['cache']['speedup']}"
                                        if "cache" in row else row.get("error", "")))
    return res


def _load() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def _sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` sentences of 2..29 words drawn from the words of the synthetic corpus's English carriers."""
    import numpy as np

    from sercore.data import synthetic

    words = " ".join(synthetic.SENTENCES["en"]["carriers"]).split()
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, size=int(rng.integers(2, 30)))) for _ in range(n)]


def _best_of(f, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_encoders(quick: bool) -> dict:
    """Text and audio encoders one by one versus batched (same inputs, same process, back to back)."""
    import numpy as np

    from sercore.features.encoders import GE2EEncoder, default_text_encoder

    out = {"threads": torch.get_num_threads(), "load_before": _load(), "targets": {
        k: TARGETS[k] for k in ("text_utt_per_s", "meld_texts", "meld_text_s", "ge2e_realtime")}}
    n_one, n_batch = (16, 32) if quick else (128, 512)
    try:
        t0 = time.perf_counter()
        enc = default_text_encoder()
        out["text_load_s"] = round(time.perf_counter() - t0, 2)
        texts = _sentences(n_batch)
        enc.encode_batch(texts[:8])                                  # warm-up
        one = _best_of(lambda: [enc(t) for t in texts[:n_one]], 1 if quick else 2) / n_one
        batched = _best_of(lambda: enc.encode_batch(texts), 1 if quick else 2) / n_batch
        diff = max(float(np.abs(a - b).max()) for a, b in zip([enc(t) for t in texts[:n_one]],
                                                                enc.encode_batch(texts[:n_one])))
        rate = 1.0 / batched
        out["text"] = {"encoder": "all-MiniLM-L6-v2 token states", "sentences": n_batch, "words": "2-29",
                       "one_by_one_utt_per_s": round(1 / one, 1), "batched_utt_per_s": round(rate, 1),
                       "speedup": round(one / batched, 2), "max_abs_diff": diff,
                       "meets_target": rate >= TARGETS["text_utt_per_s"],
                       "meld_projected_s": round(TARGETS["meld_texts"] / rate, 1),
                       "meld_meets_target": TARGETS["meld_texts"] / rate <= TARGETS["meld_text_s"]}
    except Exception as e:
        out["text"] = {"error": f"{type(e).__name__}: {e}".splitlines()[0]}
    try:
        rng = np.random.default_rng(0)
        t0 = time.perf_counter()
        g = GE2EEncoder()
        out["ge2e_load_s"] = round(time.perf_counter() - t0, 2)
        waves = [_voiced(float(rng.uniform(1.0, 4.0)), seed=i) for i in range(8 if quick else 64)]
        secs = sum(w.size for w in waves) / 16000
        g.frame_states_batch(waves[:2])
        k = 4 if quick else 16
        one = _best_of(lambda: [g.frame_states(w) for w in waves[:k]], 1) / (sum(w.size for w in waves[:k]) / 16000)
        batched = _best_of(lambda: g.frame_states_batch(waves), 1 if quick else 2) / secs
        diff = max(float(np.abs(a - b).max()) for a, b in zip([g.frame_states(w) for w in waves[:k]],
                                                                g.frame_states_batch(waves[:k])))
        out["ge2e"] = {"encoder": "GE2E frame states (Resemblyzer weights)", "utterances": len(waves),
                       "audio_s": round(secs, 1), "one_by_one_realtime": round(1 / one, 1),
                       "batched_realtime": round(1 / batched, 1), "speedup": round(one / batched, 2),
                       "max_abs_diff": diff, "meets_target": 1 / batched >= TARGETS["ge2e_realtime"]}
    except Exception as e:
        out["ge2e"] = {"error": f"{type(e).__name__}: {e}".splitlines()[0]}
    out["load_after"] = _load()
    for key in ("text", "ge2e"):
        _log(f"  encoders {key}: {out[key]}")
    return out


def _voiced(seconds: float, sr: int = 16000, seed: int = 0):
    """A voiced test signal: harmonics of a gliding f0 under a syllable-like envelope."""
    import numpy as np

    t = np.arange(int(round(seconds * sr))) / sr
    f = 140.0 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 12))
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
    return (0.2 * env * x + 0.005 * np.random.default_rng(seed).standard_normal(t.size)).astype(np.float32)


def bench_threads(paper: str = "ctmam", dataset: str = "synthetic", profile: str = "smoke",
                  data_root: str | None = None) -> dict:
    """One notebook alone (all cores), then two at once under ``fanout --executor local
    --max-parallel 2`` (each kernel gets half, :func:`sercore.paths.thread_env`)."""
    from sercore import fanout, runs
    from sercore.paths import thread_env

    out = {"notebook": f"{paper}/{dataset}/{profile}", "threads_alone": thread_env(1)["OMP_NUM_THREADS"],
           "threads_each_of_2": thread_env(2)["OMP_NUM_THREADS"], "load_before": _load(),
           "target_per_unit_slowdown": TARGETS["fanout_per_unit_slowdown"]}
    with tempfile.TemporaryDirectory(prefix="sercore-bench-threads-") as tmp:
        t0 = time.perf_counter()
        runs.run_notebook(paper, dataset, profile, data_root=data_root, results_root=Path(tmp) / "alone")
        alone = time.perf_counter() - t0
        jobs = fanout.grid([paper], [dataset], [profile], [0, 1], data_root=data_root)
        t0 = time.perf_counter()
        rep = fanout.fan_out(jobs, "local", max_parallel=2, data_root=data_root,
                             results_root=Path(tmp) / "pair", progress=False)
        pair = time.perf_counter() - t0
    out.update(alone_s=round(alone, 1), pair_wall_s=round(pair, 1),
               each_s=[e.get("result", {}).get("seconds") for e in rep.entries],
               failed=[e["error"] for e in rep.failed], load_after=_load())
    out["per_unit_slowdown"] = round(pair / 2 / alone, 2)
    out["meets_target"] = out["per_unit_slowdown"] <= TARGETS["fanout_per_unit_slowdown"] and not out["failed"]
    _log(f"  threads: {out}")
    return out


def bench_ctmam_reference(device, quick: bool, presets=("ctmam", "ctmam_emodb"), timing: dict | None = None) -> list[dict]:
    try:
        import ctmam_reference as R
    except Exception as e:   # sercore.models.ctmam missing
        return [{"skipped": f"{type(e).__name__}: {e}"}]
    from sercore.train import count_parameters

    out = []
    timing = timing or (dict(warmup=1, min_steps=1, min_s=0.0) if quick else dict(warmup=2, min_steps=5, min_s=3.0))
    for name in presets:
        row = {"model": name}
        try:
            ours, ref = R.build(name)
            ours, ref = ours.to(device), ref.to(device)
            paper_bs, _ = paper_batch_size("ctmam")
            batch = min(paper_bs or 32, QUICK_BATCH_CAP if quick else (CPU_BATCH_CAP if device.type == "cpu" else 10**9))
            inputs, note = model_inputs.example_inputs(name, ours, batch)
            x = inputs[0].to(device)
            row.update(batch_used=batch, paper_batch_size=paper_bs, inputs=note,
                       parameters_ours=count_parameters(ours), parameters_reference=count_parameters(ref),
                       naive_attention_blocks=ref.naive_blocks,
                       max_abs_logit_diff=R.check(ours, ref, x, atol=1e-3 if device.type == "cuda" else 1e-4))
            # interleave the two so a change of machine load hits both alike
            for label, m in (("ours", ours), ("reference", ref), ("ours_2", ours), ("reference_2", ref)):
                row[f"{label}_train"] = throughput(m, (x,), device, batch, train=True, **timing)
                row[f"{label}_infer"] = throughput(m, (x,), device, batch, train=False, **timing)
            for kind in ("train", "infer"):
                o = max(row[f"ours_{kind}"]["utt_per_s"], row[f"ours_2_{kind}"]["utt_per_s"])
                r = max(row[f"reference_{kind}"]["utt_per_s"], row[f"reference_2_{kind}"]["utt_per_s"])
                row[f"{kind}_speedup"] = round(o / r, 3)
        except Exception as e:
            row["error"] = f"{type(e).__name__}: {e}"
        out.append(row)
        _log(f"  ctmam reference {name}: " + (f"train x{row['train_speedup']}, infer x{row['infer_speedup']}"
                                               if "train_speedup" in row else row.get("error", "")))
    return out


def bench_fast_path(device, quick: bool) -> dict:
    """CUDA only: the same CTMAM training step with each fast-path setting on and off."""
    if device.type != "cuda":
        return {"measured": False, "reason": "no CUDA device in this run: bf16 autocast, channels-last and "
                                             "torch.compile are GPU settings; nothing is reported for them"}
    from sercore import models

    timing = dict(warmup=3, min_steps=10, min_s=3.0) if not quick else dict(warmup=1, min_steps=2, min_s=0.0)
    batch = paper_batch_size("ctmam")[0] or 128
    out = {"measured": True, "model": "ctmam", "batch": batch, "settings": []}
    for label, amp, cl, comp in (("fp32", "fp32", False, False), ("bf16", "bf16", False, False),
                                 ("bf16 + channels_last", "bf16", True, False),
                                 ("bf16 + torch.compile", "bf16", False, True)):
        row = {"setting": label}
        try:
            torch.manual_seed(0)
            m = models.create("ctmam").to(device)
            x = torch.randn(batch, m.cfg.n_mfcc, m.cfg.n_frames, device=device)
            if cl:
                m = m.to(memory_format=torch.channels_last)
            net = torch.compile(m) if comp else m
            torch.cuda.reset_peak_memory_stats(device)
            t0 = time.perf_counter()
            row["train"] = throughput(net, (x,), device, batch, train=True, amp=amp, **timing)
            row["first_call_and_timing_s"] = round(time.perf_counter() - t0, 2)
            row["cuda_max_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        except Exception as e:
            row["error"] = f"{type(e).__name__}: {e}"
        out["settings"].append(row)
    return out


def make_book_section(seconds: float | None, results_root: Path, warm_seconds: float | None = None) -> dict:
    """``make book`` wall times (cold and warm, given by the caller), every quick notebook's time, each
    chapter's share and the leaderboard's total, from ``results/``, each beside its target."""
    src = "--make-book-seconds"
    timing_file = results_root / "benchmarks" / "make_book.json"
    if timing_file.exists():
        saved = json.loads(timing_file.read_text())
        if seconds is None and saved.get("seconds") is not None:
            seconds, src = float(saved["seconds"]), str(timing_file)
        if warm_seconds is None and saved.get("warm_seconds") is not None:
            warm_seconds = float(saved["warm_seconds"])
    per_paper: dict[str, float] = {}
    notebooks = []
    for p in sorted(results_root.glob("*/*/quick/metrics.json")):
        try:
            d = json.loads(p.read_text())
            rt = float(d.get("runtime_s") or 0)
        except (OSError, ValueError, KeyError):
            continue
        per_paper[d["paper"]] = per_paper.get(d["paper"], 0.0) + rt
        key = p.parent / "run_key.json"
        notebooks.append({"notebook": f"{d['paper']}/{p.parent.parent.name}", "runtime_s": round(rt, 1),
                          "run_key": key.exists()})
    board = per_paper.get("leaderboard")
    out = {"target_s": MAKE_BOOK_TARGET_S, "seconds": seconds, "source": src if seconds is not None else None,
           "warm_target_s": TARGETS["make_book_warm_s"], "warm_seconds": warm_seconds,
           "leaderboard_s": round(board, 1) if board is not None else None,
           "leaderboard_target_s": TARGETS["leaderboard_s"],
           "notebooks": sorted(notebooks, key=lambda r: -r["runtime_s"]),
           "chapters": [{"paper": k, "quick_runtime_s": round(v, 1),
                         "share": round(v / seconds, 3) if seconds else None}
                        for k, v in sorted(per_paper.items(), key=lambda kv: -kv[1])]}
    if seconds is None:
        out["note"] = ("make book was not timed for this run: pass --make-book-seconds (and "
                       "--make-book-warm-seconds for a second run with nothing changed) or write "
                       "results/benchmarks/make_book.json as {\"seconds\": ..., \"warm_seconds\": ...}")
    else:
        out["meets_target"] = seconds <= MAKE_BOOK_TARGET_S
    if warm_seconds is not None:
        out["warm_meets_target"] = warm_seconds <= TARGETS["make_book_warm_s"]
    if board is not None:
        out["leaderboard_meets_target"] = board <= TARGETS["leaderboard_s"]
    return out


# ----------------------------------------------------------------------------- main

def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def select(names, patterns):
    if not patterns:
        return list(names)
    return [n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)]


QUICK_MODELS = ("mlp_stats", "ctmam_emodb")
#: ``--book``: the small benchmark every ``make book`` runs (a few seconds): one model per paper and the two
#: audio baselines, at the paper batch size capped at CPU_BATCH_CAP, fewer timed steps than the full run
BOOK_MODELS = ("mlp_stats", "bilstm_pool", "ctmam_emodb", "mlcct_small", "mcwsa_cmha_small", "mdat_standin")
BOOK_TIMING = dict(warmup=1, min_steps=2, min_s=0.3)
BOOK_SECTIONS = ("models", "ctmam")
DEFAULT_EXTRACTORS = ("mfcc", "logmel", "logmel_deltas", "ge2e", "minilm")


def main(argv=None) -> int:
    from sercore.paths import project_root, results_dir

    ap = argparse.ArgumentParser(prog="benchmarks/run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny settings: checks that every section runs")
    ap.add_argument("--book", action="store_true",
                    help="the small benchmark `make book` runs (a few seconds): " + ", ".join(BOOK_MODELS)
                         + " at their paper batch (at most 32) and CTMAM against the direct implementation")
    ap.add_argument("--out", default=None, help="JSON path (default results/benchmarks/benchmarks.json; "
                                                "--quick: benchmarks.quick.json)")
    ap.add_argument("--page", default=None, help="markdown page to write (default book/_generated/benchmarks.md; "
                                                 "--quick: none); 'none' to skip")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--models", nargs="*", default=None, help="presets or glob patterns (default: all; "
                                                              f"--quick: {' '.join(QUICK_MODELS)})")
    ap.add_argument("--extractors", nargs="*", default=None,
                    help=f"default: {' '.join(DEFAULT_EXTRACTORS)} (--quick: mfcc)")
    ap.add_argument("--sections", nargs="*",
                    default=["models", "features", "encoders", "ctmam", "fast_path", "make_book"],
                    help="also: threads (runs a smoke notebook alone and two at once)")
    ap.add_argument("--make-book-seconds", type=float, default=None,
                    help="wall time of a `make book` measured by the caller (cold: clean clone, empty caches)")
    ap.add_argument("--make-book-warm-seconds", type=float, default=None,
                    help="wall time of a second `make book` with nothing changed")
    ap.add_argument("--data-root", default=os.environ.get("SERCORE_DATA"))
    args = ap.parse_args(argv)
    if args.book and args.quick:
        ap.error("--book and --quick are two different settings; give one")
    if args.book:
        args.sections = [s for s in args.sections if s in BOOK_SECTIONS]
        args.models = args.models if args.models is not None else list(BOOK_MODELS)

    os.environ.setdefault("SERCORE_PROGRESS", "0")
    from sercore.paths import limit_threads
    limit_threads(1)         # the CPUs sercore may use (SERCORE_CPUS, affinity, cgroup quota; a smaller OMP_NUM_THREADS kept)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    results_root = results_dir()
    out = Path(args.out) if args.out else results_root / "benchmarks" / (
        "benchmarks.quick.json" if args.quick else "benchmarks.json")
    if args.book and not args.out and out.exists():
        try:
            prev = json.loads(out.read_text())
        except (OSError, ValueError):
            prev = {}
        if not prev.get("book") and not prev.get("quick"):
            _log(f"{out} holds a full benchmark run ({prev.get('started')}): the book shows it; --book does not "
                 "replace it")
            return 0
    page = args.page or (None if args.quick else str(project_root() / "book" / "_generated" / "benchmarks.md"))
    t0 = time.time()
    data = {"schema": 1, "quick": args.quick, "book": args.book, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine_info(device),
            "settings": {"cpu_batch_cap": CPU_BATCH_CAP if not args.quick else QUICK_BATCH_CAP,
                         "mfcc_frames": model_inputs.MFCC_FRAMES, "ssl_frames": model_inputs.SSL_FRAMES,
                         "text_tokens": model_inputs.TEXT_TOKENS}}
    if "models" in args.sections:
        from sercore import models
        names = select(models.available(), args.models if args.models is not None
                       else (QUICK_MODELS if args.quick else None))
        _log(f"models on {device}: {len(names)} preset(s)")
        data["models"] = bench_models(names, device, args.quick, BOOK_TIMING if args.book else None)
    if "features" in args.sections:
        ex = args.extractors if args.extractors is not None else (["mfcc"] if args.quick else DEFAULT_EXTRACTORS)
        _log("features")
        data["features"] = bench_features(ex, args.quick, args.data_root)
    if "encoders" in args.sections:
        _log("encoders: one by one versus batched")
        data["encoders"] = bench_encoders(args.quick)
    if "threads" in args.sections:
        _log("threads: one notebook alone, then two under fanout")
        data["threads"] = bench_threads(data_root=args.data_root)
    if "ctmam" in args.sections:
        _log("CTMAM against the direct implementation")
        data["ctmam_reference"] = bench_ctmam_reference(device, args.quick,
                                                        ("ctmam_emodb",) if args.quick or args.book
                                                        else ("ctmam", "ctmam_emodb"),
                                                        BOOK_TIMING if args.book else None)
    if "fast_path" in args.sections:
        data["fast_path"] = bench_fast_path(device, args.quick)
    if "make_book" in args.sections:
        data["make_book"] = make_book_section(args.make_book_seconds, results_root, args.make_book_warm_seconds)
    data["seconds"] = round(time.time() - t0, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2))
    _log(f"wrote {out} ({data['seconds']} s)")
    if page and page != "none":
        from sercore import bench_page as page_mod
        p = page_mod.write_page(data, Path(page), json_path=out)
        _log(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
