"""Render ``benchmarks.json`` as the book page ``book/_generated/benchmarks.md`` (tables + bar figures).

    python -m sercore.bench_page [results/benchmarks/benchmarks.json] [book/_generated/benchmarks.md]

Every number on the page comes from the JSON (measured by ``benchmarks/run``), except the
targets, which are the issue's. Figures go to ``<page folder>/benchmarks_files/``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _fmt(v, nd=1):
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 10 else f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _table(header, rows) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_fmt(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _figures(data: dict, folder: Path) -> dict:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    figs = {}
    ok = [m for m in data.get("models", []) if "train" in m]
    if ok:
        fig, ax = plt.subplots(figsize=(8, max(2.5, 0.28 * len(ok) + 1)))
        names = [m["model"] for m in ok]
        y = range(len(ok))
        ax.barh([i + 0.2 for i in y], [m["train"]["utt_per_s"] for m in ok], 0.4, label="training step")
        ax.barh([i - 0.2 for i in y], [m["infer"]["utt_per_s"] for m in ok], 0.4, label="inference")
        ax.set_yticks(list(y), names, fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel(f"utterances / s on {data['machine']['device']} (log scale)")
        ax.invert_yaxis()
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / "throughput.png", dpi=110)
        plt.close(fig)
        figs["throughput"] = "throughput.png"
    feats = [f for f in data.get("features", {}).get("extractors", []) if "cache" in f]
    if feats:
        fig, ax = plt.subplots(figsize=(7, 2.8))
        x = range(len(feats))
        ax.bar([i - 0.2 for i in x], [f["cache"]["first_s"] for f in feats], 0.4, label="first (compute + write)")
        ax.bar([i + 0.2 for i in x], [f["cache"]["second_s"] for f in feats], 0.4, label="second (cache read)")
        ax.set_xticks(list(x), [f["extractor"] for f in feats])
        ax.set_yscale("log")
        ax.set_ylabel("seconds (log scale)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / "cache.png", dpi=110)
        plt.close(fig)
        figs["cache"] = "cache.png"
    return figs


def render(data: dict, figs: dict | None = None, fig_dir: str = "benchmarks_files",
           json_path: str | None = None) -> str:
    figs = figs or {}
    m = data["machine"]
    L = ["# Benchmarks: speed, memory, cache and scale", ""]
    if data.get("book"):
        L += ["This is the small benchmark every `make book` runs before the notebooks (`benchmarks/run --book`, "
              "a few seconds of compute): one model per paper and the two audio baselines at their paper batch "
              "size (at most 32 on CPU), each timed for a couple of steps, and CTMAM against its direct "
              "implementation. `benchmarks/run` without `--book` adds every preset, feature extraction and the "
              "cache, the encoders and the `make book` times, and its page replaces this one.", ""]
    cmd = "benchmarks/run" + (" --book" if data.get("book") else "") + (" --quick" if data.get("quick") else "")
    L += [f"Measured by `{cmd}`{' (tiny settings, not representative)' if data.get('quick') else ''} "
          f"on {m.get('cpu_model') or 'an unnamed CPU'} ({m['cpu_count']} cores visible, torch "
          f"{m['torch']}, {m['torch_threads']} torch threads), device **{m['device']}**, git "
          f"`{m.get('git_sha')}`, started {data.get('started')}; the whole run took {data.get('seconds')} s. "
          + (f"Load average when it started: {', '.join(f'{v:.1f}' for v in m['load_average'])} "
             "(other work shared these cores, so throughputs are lower bounds)." if m.get("load_average") else ""),
          ""]
    if json_path:
        L += [f"The numbers below are read from `{json_path}`; regenerate this page with "
              "`benchmarks/run` (or `python -m sercore.bench_page`).", ""]
    if not m.get("cuda_available"):
        L += ["```{note}", "No GPU was available for this run: every number here is a CPU number. "
              "The CUDA columns (max allocated memory), the fast-path comparison (bf16 autocast, "
              "channels-last, `torch.compile`) and the GPU side of the CTMAM reference point were not "
              "measured. Run `benchmarks/run` on a CUDA machine to fill them in.", "```", ""]

    models = data.get("models")
    if models is not None:
        L += ["## Models: training and inference throughput", "",
              "One training step is forward, cross-entropy, backward and an Adam step on random inputs shaped "
              "like the paper's inputs (column *inputs*); inference is `eval()` without gradients. Batch: "
              f"the paper profile's batch size from `params/`, capped at {data['settings']['cpu_batch_cap']} on "
              "CPU (*paper batch* and *batch used* say which). Peak RSS is the process's resident-memory "
              "high-water mark, reset before each model; it includes PyTorch's own footprint and memory the "
              "allocator kept from earlier models (*RSS before*), so *peak − before* is the model's own "
              "increment. The machine was shared with other work while this ran: repeated timings of the same "
              "model differ by up to 3x (compare CTMAM here and in the reference section), so read the "
              "throughputs as orders of magnitude.", ""]
        rows, skipped, inputs = [], [], []
        cuda = any(r.get("cuda_max_allocated_mb") is not None for r in models)
        for r in models:
            if "train" in r:
                grow = (round(r["peak_rss_mb"] - r["rss_before_mb"], 1)
                        if r.get("peak_rss_mb") is not None and r.get("rss_before_mb") is not None else None)
                rows.append([r["model"], r["parameters"], r.get("paper_batch_size"), r["batch_used"],
                             r["train"]["utt_per_s"], r["infer"]["utt_per_s"], r.get("rss_before_mb"),
                             r.get("peak_rss_mb"), grow] + ([r.get("cuda_max_allocated_mb")] if cuda else []))
                inputs.append(f"- `{r['model']}`: {r['inputs']}")
            else:
                skipped.append(f"- `{r['model']}`: {r.get('skipped') or r.get('error')}")
        L += [_table(["model", "parameters", "paper batch", "batch used", "train utt/s", "infer utt/s",
                      "RSS before (MB)", "peak RSS (MB)", "peak − before (MB)"]
                     + (["CUDA max alloc (MB)"] if cuda else []), rows), ""]
        if inputs:
            L += ["Inputs of each model (one batch):", "", *inputs, ""]
        if "throughput" in figs:
            L += [f"![throughput per model]({fig_dir}/{figs['throughput']})", ""]
        if skipped:
            L += ["Not measured:", "", *skipped, ""]

    feats = data.get("features")
    if feats:
        L += ["## Feature extraction and the cache", "",
              f"Corpus: {feats['corpus']}. *utt/s* extracts every utterance without the cache, after a first "
              "utterance that loads the encoder (*first item*, which includes loading). The cache columns use a "
              "fresh, empty cache: the first pass computes and writes every array, the second reads them back "
              f"(target: the second at least {feats['cache_target']:.0f}x faster).", ""]
        rows = []
        for f in feats["extractors"]:
            c = f.get("cache", {})
            rows.append([f["extractor"], f.get("first_item_s"), f.get("utt_per_s"), f.get("audio_s_per_s"),
                         c.get("first_s"), c.get("second_s"), c.get("speedup"), c.get("meets_target"),
                         f.get("error", "")])
        L += [_table(["extractor", "first item (s)", "utt/s", "audio s / s", "cache: first (s)",
                      "cache: second (s)", "speed-up", f"≥{feats['cache_target']:.0f}x", "error"], rows), ""]
        if "cache" in figs:
            L += [f"![first versus second extraction]({fig_dir}/{figs['cache']})", ""]

    ref = data.get("ctmam_reference")
    if ref:
        L += ["## CTMAM against a direct implementation", "",
              "The reference (`benchmarks/ctmam_reference.py`) is the same network with the same weights "
              "(parameter counts below) whose attention blocks loop over heads in Python and compute "
              "`softmax(QKᵀ/√d + bias)V` explicitly; ours calls `F.scaled_dot_product_attention` on all heads "
              "at once. Everything else is shared code, so the difference is the attention alone. Each is timed "
              "twice, interleaved, and the better of the two is kept. Target: ours at least as fast on CPU "
              "(speed-up ≥ 1) and faster on GPU.", ""]
        rows = []
        for r in ref:
            if "train_speedup" in r:
                best = lambda k: max(r[f"{k}"]["utt_per_s"], r[f"{k.replace('_', '_2_', 1)}"]["utt_per_s"])
                rows.append([r["model"], r["parameters_ours"], r["parameters_reference"], r["batch_used"],
                             best("ours_train"), best("reference_train"), r["train_speedup"],
                             best("ours_infer"), best("reference_infer"), r["infer_speedup"],
                             f"{r['max_abs_logit_diff']:.1e}"])
            else:
                rows.append([r.get("model", "ctmam"), None, None, None, None, None, None, None, None, None,
                             r.get("skipped") or r.get("error")])
        L += [_table(["preset", "params (ours)", "params (reference)", "batch", "train utt/s ours",
                      "train utt/s reference", "train speed-up", "infer utt/s ours", "infer utt/s reference",
                      "infer speed-up", "max abs Δ logit"], rows), ""]

    fp = data.get("fast_path")
    if fp:
        L += ["## Fast GPU path", ""]
        if not fp.get("measured"):
            L += [f"Not measured: {fp['reason']}.", "",
                  "What the training engine does on a GPU (`sercore.train.TrainConfig`): bf16 autocast "
                  "(`amp=\"auto\"`), pinned-memory batches copied with `non_blocking=True`, and no host-device "
                  "synchronisation inside the training step (the running loss stays on the device until the "
                  "epoch ends).", ""]
        else:
            rows = [[s["setting"], s.get("train", {}).get("utt_per_s"), s.get("cuda_max_allocated_mb"),
                     s.get("first_call_and_timing_s"), s.get("error", "")] for s in fp["settings"]]
            L += [f"CTMAM training steps at batch {fp['batch']}.", "",
                  _table(["setting", "train utt/s", "CUDA max alloc (MB)", "incl. compile (s)", "error"], rows), ""]

    enc = data.get("encoders")
    if enc:
        L += _encoders_section(enc)
    th = data.get("threads")
    if th:
        L += _threads_section(th)

    mb = data.get("make_book")
    if mb:
        L += ["## `make book` wall time", ""]
        if mb.get("seconds") is None:
            L += [mb.get("note", "not measured"), ""]
        else:
            L += [f"`make book` took **{mb['seconds']:.0f} s** on this machine (target: under "
                  f"{mb['target_s'] / 60:.0f} minutes; {'met' if mb['meets_target'] else 'NOT met'}); "
                  f"source: {mb['source']}.", ""]
        if mb.get("warm_seconds") is not None:
            L += [f"A second `make book` with nothing changed (every run reused by its run key) took "
                  f"**{mb['warm_seconds']:.0f} s** (target: under {mb['warm_target_s']:.0f} s; "
                  f"{'met' if mb['warm_meets_target'] else 'NOT met'}).", ""]
        if mb.get("leaderboard_s") is not None:
            L += [f"The leaderboard notebooks took **{mb['leaderboard_s']:.0f} s** together (our budget: "
                  f"{mb['leaderboard_target_s']:.0f} s, a third of the book; "
                  f"{'met' if mb['leaderboard_meets_target'] else 'NOT met'}).", ""]
        if mb.get("notebooks"):
            L += ["Every quick notebook in `results/`, slowest first (*run key*: a `run_key.json` lets "
                  "`sercore book --run` reuse it while nothing it depends on changes).", "",
                  _table(["notebook", "runtime (s)", "run key"],
                         [[r["notebook"], r["runtime_s"], "yes" if r["run_key"] else "no"]
                          for r in mb["notebooks"]]), ""]
        if mb.get("chapters"):
            L += ["Each paper's share: the sum of `runtime_s` of its quick-profile runs in `results/`.", "",
                  _table(["paper", "quick runs (s)", "share of make book"],
                         [[c["paper"], c["quick_runtime_s"],
                           f"{100 * c['share']:.0f}%" if c.get("share") is not None else None]
                          for c in mb["chapters"]]), ""]

    L += ["## Scale beyond one machine", "",
          "- **Several GPUs, one run**: `torchrun --standalone --nproc_per_node=N -m sercore.cli run PAPER "
          "--dataset D --profile paper` (or any script that calls `train.fit`); `train.fit` joins the process "
          "group (`sercore.distributed`), shards each epoch with a "
          "`DistributedSampler`, wraps the model in `DistributedDataParallel` and writes checkpoints on "
          "rank 0 only. Tested on CPU with 2 `gloo` processes (`tests/test_distributed.py`): both ranks end with "
          "identical weights, equal to one process trained on the union of their batches; only rank 0's "
          "notebook results are kept.",
          "- **A grid of runs**: `sercore fanout PAPER... --datasets ... --profiles ... --seeds ... "
          "--executor local|debug|slurm` submits each `sercore run` through `submitit` (SLURM job arrays on a "
          "cluster); results land in the usual `results/` tree.", ""]
    return "\n".join(L)


def _met(flag) -> str:
    return "–" if flag is None else ("met" if flag else "NOT met")


def _encoders_section(enc: dict) -> list[str]:
    t, g, tg = enc.get("text", {}), enc.get("ge2e", {}), enc.get("targets", {})
    L = ["## Encoders: one by one versus batched", "",
         f"Each encoder on the same inputs, one call per utterance and then in length-sorted padded batches "
         f"(`encode_batch`, `frame_states_batch`), back to back in one process with {enc.get('threads')} "
         f"torch thread(s); load average (1, 5, 15 min) before {enc.get('load_before')} and after "
         f"{enc.get('load_after')}: on a shared machine the absolute rates are pessimistic, the ratio is not. "
         "*max diff* is the largest absolute difference between the two outputs.", ""]
    rows = []
    if "error" in t:
        rows.append(["MiniLM text", None, None, None, None, None, t["error"]])
    elif t:
        rows.append([f"MiniLM text, {t['sentences']} sentences of {t['words']} words",
                     f"{t['one_by_one_utt_per_s']} utt/s", f"{t['batched_utt_per_s']} utt/s",
                     f"{t['speedup']}x", f"{t['max_abs_diff']:.1e}",
                     f"≥ {tg.get('text_utt_per_s')} utt/s on 2 cores: {_met(t.get('meets_target'))}", ""])
    if "error" in g:
        rows.append(["GE2E frames", None, None, None, None, None, g["error"]])
    elif g:
        rows.append([f"GE2E frames, {g['utterances']} utterances, {g['audio_s']} s",
                     f"{g['one_by_one_realtime']}x real time", f"{g['batched_realtime']}x real time",
                     f"{g['speedup']}x", f"{g['max_abs_diff']:.1e}",
                     f"≥ {tg.get('ge2e_realtime')}x real time on 2 cores: {_met(g.get('meets_target'))}", ""])
    L += [_table(["encoder", "one by one", "batched", "speed-up", "max diff", "target", "error"], rows), ""]
    if t.get("meld_projected_s") is not None:
        L += [f"At the batched rate MELD's {tg.get('meld_texts')} transcripts take about "
              f"{t['meld_projected_s']:.0f} s (a projection from this rate; target {tg.get('meld_text_s')} s: "
              f"{_met(t.get('meld_meets_target'))}).", ""]
    return L


def _threads_section(th: dict) -> list[str]:
    if th.get("failed"):
        return ["## One notebook alone and under a 2-worker fan-out", "",
                f"Not measured: {th['failed'][0]}", ""]
    return ["## One notebook alone and under a 2-worker fan-out", "",
            f"`{th['notebook']}` alone ({th['threads_alone']} thread(s)) took {th['alone_s']} s; two of it at once "
            f"under `sercore fanout --executor local --max-parallel 2` ({th['threads_each_of_2']} thread(s) each) "
            f"took {th['pair_wall_s']} s (each: {th['each_s']}). Per unit of work that is "
            f"**{th['per_unit_slowdown']}x** the time alone (target ≤ {th['target_per_unit_slowdown']}x: "
            f"{_met(th.get('meets_target'))}); load average before {th['load_before']}, after "
            f"{th['load_after']}.", ""]


def write_page(data: dict, page: Path, json_path: Path | str | None = None) -> Path:
    page = Path(page)
    fig_dir = page.parent / f"{page.stem}_files"
    figs = _figures(data, fig_dir)
    jp = None
    if json_path:
        # a path inside the project, as a reader's checkout has it; never a path of this machine
        from .paths import project_root

        src = Path(json_path).resolve()
        for base in (project_root(), page.parent.parent):
            try:
                jp = str(src.relative_to(Path(base).resolve()))
                break
            except ValueError:
                continue
        else:
            jp = f"results/benchmarks/{src.name}"
    page.write_text(render(data, figs, fig_dir.name, jp) + "\n")
    return page


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    here = Path(__file__).resolve().parent.parent
    src = Path(argv[0]) if argv else here / "results" / "benchmarks" / "benchmarks.json"
    dest = Path(argv[1]) if len(argv) > 1 else here / "book" / "_generated" / "benchmarks.md"
    if not src.exists():
        print(f"error: no {src}; run benchmarks/run first", file=sys.stderr)
        return 1
    print(write_page(json.loads(src.read_text()), dest, src))
    return 0


if __name__ == "__main__":
    sys.exit(main())
