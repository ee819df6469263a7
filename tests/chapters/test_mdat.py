"""MDAT chapter: label maps, k-shot sampler, params schema, method(P, have), a tiny end-to-end run()."""
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sercore import chapters, experiment, results
from sercore.chapters import mdat as ch
from sercore.paths import project_root
from sercore.runs import resolve
from sercore.schemas import ParamsError
from sercore.schemas.mdat import main_spec
from sercore.data import get_label_map
from sercore.protocols import cross_corpus_split, make_kshot


def _manifest(labels, corpus="x", n_spk=4):
    return pd.DataFrame({"utt_id": [f"{corpus}{i}" for i in range(len(labels))], "label": labels,
                         "speaker": [f"{corpus}_s{i % n_spk}" for i in range(len(labels))],
                         "corpus": corpus})


def test_emodb_boredom_is_sad_and_the_subset_has_420_utterances():
    counts = {"angry": 127, "boredom": 81, "disgust": 46, "fear": 69, "happy": 71, "sad": 62, "neutral": 79}
    m = _manifest([lab for lab, n in counts.items() for _ in range(n)], "emodb")
    out = get_label_map(ch.LABEL_MAPS["emodb"]).apply(m)
    classes = get_label_map("emodb4_mdat").classes
    per = out["y"].map(lambda i: classes[i]).value_counts().to_dict()
    assert per == {"angry": 127, "sad": 143, "neutral": 79, "happy": 71} and len(out) == 420  # Sec. IV-A
    assert out.attrs["dropped"] == {"fear": 69, "disgust": 46}


def test_every_corpus_maps_onto_the_same_four_classes_in_one_order():
    classes = {get_label_map(v).classes for v in ch.LABEL_MAPS.values()}
    assert classes == {("neutral", "happy", "sad", "angry")}
    emovo = get_label_map(ch.LABEL_MAPS["emovo"]).apply(
        _manifest(["neutral", "happy", "sad", "angry", "fear", "disgust", "surprise"], "emovo"))
    assert emovo["y"].tolist() == [0, 1, 2, 3] and set(emovo.attrs["dropped"]) == {"fear", "disgust", "surprise"}
    urdu = get_label_map(ch.LABEL_MAPS["urdu"]).apply(_manifest(["angry", "happy", "neutral", "sad"], "urdu"))
    assert urdu["y"].tolist() == [3, 1, 0, 2]
    assert ch.SYNTHETIC_STANDS_FOR == {"en": "iemocap", "de": "emodb", "it": "emovo", "ur": "urdu"}


def test_cross_corpus_pair_through_the_shared_map():
    src = get_label_map("ser4").apply(_manifest(["neutral", "happy", "sad", "angry"] * 5, "urdu"))
    tgt = get_label_map("emodb4_mdat").apply(_manifest(["boredom", "happy", "sad", "angry", "neutral"] * 3, "emodb"))
    with pytest.raises(ValueError, match="label map"):
        cross_corpus_split(src, tgt)               # two map names: refused without the chapter's check
    a, b = ch._shared(src, tgt)
    combined, fold = cross_corpus_split(a, b, seed=0)
    assert set(fold.test) == set(range(20, 35)) and set(fold.train) | set(fold.val) == set(range(20))
    assert (combined["y"].iloc[20:] == [2, 1, 2, 3, 0] * 3).all()   # boredom -> sad (2)
    with pytest.raises(ValueError, match="different classes"):
        ch._shared(src, get_label_map("emodb7").apply(_manifest(["fear", "happy"], "emodb")))


@pytest.mark.parametrize("k", [0, 5, 10, 15])
def test_kshot_sampler_is_disjoint_k_per_class_and_seeded(k):
    m = get_label_map("ser4").apply(_manifest(["neutral", "happy", "sad", "angry"] * 25))
    folds = [make_kshot(m, k, seed=s) for s in range(3)]
    for f in folds:
        assert not np.intersect1d(f.train, f.test).size          # never used for both
        assert len(f.train) + len(f.test) == len(m)
        assert (np.bincount(m["y"].to_numpy()[f.train], minlength=4) == k).all()
    if k:
        assert len({tuple(f.train) for f in folds}) == 3            # several seeds differ
        assert (make_kshot(m, k, seed=1).train == folds[1].train).all()


def test_method_takes_the_resolved_params_and_goes_audio_only_without_text():
    P = resolve("mdat", "emodb", "quick", {"seed": 3})
    mm = ch.method(P, have=("audio", "text"))
    assert mm.name == "MDAT" and mm.modalities == ("audio", "text") and mm.train.inputs[-1] == "text_lengths"
    assert (mm.train.epochs, mm.train.batch_size, mm.train.lr, mm.train.weight_decay, mm.train.seed) == (
        P["epochs"], P["batch_size"], 0.001, 0.0001, 3) == (6, 32, 0.001, 0.0001, 3)
    assert mm.build(4).cfg.use_text and mm.build(4).cfg.use_graph
    ao = ch.method({**P, "epochs": 3}, have=("audio",))
    assert ao.modalities == ("audio",) and ao.train.inputs == ("audio", "audio_lengths")
    assert ao.train.epochs == 3 and not ao.build(4).cfg.use_text and "audio only" in ao.name
    assert chapters.method("mdat", P, have=("audio", "text", "video")).modalities == ("audio", "text")


def test_build_uses_the_table_vi_presets():
    assert ch.build("baseline", 4).__class__.__name__ == "MDATBaseline"
    m3 = ch.build("m3", 4, use_text=False).cfg
    assert (m3.use_graph, m3.use_coattention, m3.use_transformer, m3.use_text) == (True, False, False, False)
    with pytest.raises(ValueError, match="model kind"):
        ch.build("m8", 4)


def test_params_pin_each_corpus_to_its_label_map_and_the_main_corpus_to_corpora():
    assert resolve("mdat", "emodb", "smoke")["label_map"] == "emodb4_mdat"
    assert resolve("mdat", "iemocap", "smoke")["label_map"] == "iemocap4"
    P = resolve("mdat", "synthetic", "smoke")
    assert main_spec(P["corpus"], P["languages"]) == "synthetic:en" == P["corpora"][0]
    for overrides, match in (({"label_map": "emodb7"}, "label_map"), ({"languages": None}, "languages"),
                             ({"corpora": ["synthetic:de"], "ablation_source": "synthetic:de"}, "main corpus"),
                             ({"corpora": ["synthetic:en", "emodb:de"]}, "corpora"),
                             ({"ablation_source": "emodb"}, "ablation_source"),
                             ({"kshot_sources": ["urdu"]}, "kshot_sources")):
        with pytest.raises(ParamsError, match=match):
            resolve("mdat", "synthetic", "smoke", overrides)
    with pytest.raises(ParamsError, match="emodb4_mdat"):
        resolve("mdat", "emodb", "smoke", {"label_map": "ser4"})


def test_run_two_synthetic_languages_end_to_end(monkeypatch):
    monkeypatch.setenv("SERCORE_PROGRESS", "0")
    P = resolve("mdat", "synthetic", "smoke", {"corpora": ["synthetic:en", "synthetic:de"], "n_per_class": 4,
                                               "kshot_ks": [0, 2]})
    corpus = experiment.load_corpus(P)
    r = ch.run(P, corpus)
    F = r.figures
    assert r.protocol["name"] == "official" and set(r.metrics) >= {"wa", "ua", "macro_f1", "weighted_f1"}
    assert r.confusion["labels"] == ["neutral", "happy", "sad", "angry"]
    assert r.extra["headline"] == "within-corpus MDAT on synthetic:en (for IEMOCAP)"
    # each corpus: the two trained models, then the speaker-only predictor on the same folds (the confound)
    assert F["within"][["spec", "kind"]].values.tolist() == [[s, k] for s in P["corpora"]
                                                             for k in ("baseline", "mdat", "speaker_only")]
    assert len(F["cross"]) == 4 and set(F["cross"]["kind"]) == {"baseline", "mdat"}        # 2 pairs x 2 models
    assert set(F["kshot"].s) == {"synthetic:en"} and sorted(set(F["kshot"].k)) == [0, 2]
    assert (F["kshot"]["adapt"] == F["kshot"]["k"] * 4).all()                                 # k per class
    assert F["ablations"]["setting"].eq("cross-language").all() and len(F["ablation_table"]) == 7
    # Model 1 of Table VI is the cross-language MDAT, not a second training
    m1 = F["ablations"][F["ablations"].k == 1]["UA"].iloc[0]
    assert m1 == F["cross"][(F["cross"].s == "synthetic:en") & (F["cross"].kind == "mdat")]["UA"].iloc[0]
    tables = {c["table"] for c in r.comparisons}
    assert tables == {"Table II", "Table IV", "Table V", "Table VI"}
    iv = next(c for c in r.comparisons if c["row"] == "MDAT [IEMOCAP->EMODB]")
    assert iv["reported"] == 42.48 and "not comparable" in iv["note"]
    # every Table II, IV and V row carries its own 95% interval, from its own test predictions (a k-shot
    # row: its draws' intervals pooled), and is decided on it
    own = [c for c in r.comparisons if c["table"] in ("Table II", "Table IV", "Table V")]
    assert own and all(c["own_interval"]["low"] <= c["measured"] + 0.005 and
                       c["measured"] - 0.005 <= c["own_interval"]["high"] for c in own)
    decided = results.attach_intervals(own, r.metrics, {}, False, "mdat", "iemocap_emodb")
    assert all(d["interval"] == [c["own_interval"]["low"], c["own_interval"]["high"]] for d, c in zip(decided, own))
    assert {c["table"] for c in own} == {"Table II", "Table IV", "Table V"}
    # the data table counts each corpus whole (200 utterances a language): n_per_class trims training only
    assert F["labels"][F["main"]] == "synthetic:en (for IEMOCAP)" and F["data"]["utterances"].tolist() == [200, 200]
    # n_per_class trims training only: session 5 (40 = 10 per class) whole, + 4 per class train and val
    assert r.protocol["folds"][0]["sizes"] == {"train": 16, "val": 16, "test": 40}
    assert "Training: 1 epoch(s)" in ch.describe_run(P) and "`smoke`-profile" in ch.describe_run(P)


def test_the_cells_the_paper_prints_twice_are_found_and_said():
    again = ch.repeated_cells()
    assert again[("MDAT", "EMODB->URDU")] == ["EMOVO->URDU"] and again[("MDAT", "EMOVO->URDU")] == ["EMODB->URDU"]
    assert again[("Baseline multimodal Model", "EMODB->URDU")] == ["EMOVO->URDU"]
    assert ("MDAT", "IEMOCAP->EMODB") not in again


def test_reported_tables_come_from_the_reference():
    t = ch.reported_within()
    assert t.loc["emodb", "MDAT"] == 84.50 and t.loc["iemocap", "HCAM [81]"] == 73.67
    iv = ch.reported_cross()
    assert len(iv) == 12 and iv.loc["IEMOCAP->EMOVO", "MDAT"] == 85.51


# ----------------------------------------------------------------------------- real corpora: protocols and pairs

#: the real Emo-DB copy when this machine has one: found only through SERCORE_DATA (or ../shared/data)
SHARED_EMODB = Path(os.environ.get("SERCORE_DATA") or project_root().parent / "shared" / "data") / "emodb"


@pytest.fixture
def two_real_corpora(tmp_path):
    """A data root with Emo-DB (the shared real copy when this machine has it, else the fixture corpus) and
    URDU (the fixture corpus: speaker ids tied to emotions as in the real one), both in their official
    layouts (:func:`sercore.data.fixtures.write_fixtures`)."""
    from sercore.data.fixtures import write_fixtures

    root = tmp_path / "data"
    root.mkdir()
    if SHARED_EMODB.is_dir():
        (root / "emodb").symlink_to(SHARED_EMODB)
        write_fixtures(root, ["urdu"])
    else:
        write_fixtures(root, ["emodb", "urdu"])
    return root


def test_urdu_params_measure_emotion_and_say_why_they_differ_from_the_paper():
    for profile in ("smoke", "quick", "paper"):
        P = resolve("mdat", "urdu", profile)
        assert (P["protocol"], P["k"]) == ("kfold_val", 5)
    assert ch.protocol_problem("emodb", "loso_speaker") == "" and ch.protocol_problem("iemocap", "loso") == ""
    why = ch.protocol_problem("urdu", "kfold_val")
    assert why.startswith("protocol kfold_val differs from our reading of the paper's split (loso_speaker)")
    assert "speaker and emotion are tied" in why
    row = ch._compare("Table II", "MDAT", 50.0, dataset="urdu", note="x", why_not=why)
    assert row["comparable"] is False and row["reported"] == 94.33 and row["note"].startswith("x; not comparable: ")
    assert "comparable" not in ch._compare("Table II", "MDAT", 50.0, dataset="emodb")


def test_pair_params_files_resolve_and_give_each_corpus_its_protocol():
    from sercore.runs import datasets_with_params

    pairs = [d for d in datasets_with_params("mdat") if "_" in d]
    assert {"emodb_urdu", "emodb_emovo", "emovo_urdu", "iemocap_emodb_emovo_urdu"} <= set(pairs)
    own = {c: resolve("mdat", c, "quick")["protocol"] for c in ("emodb", "emovo", "urdu", "iemocap")}
    for d in pairs:
        for profile in ("smoke", "quick", "paper"):
            P = resolve("mdat", d, profile)
            assert P["corpora"] == d.split("_") and P["corpus"] == P["corpora"][0]
            for spec in P["corpora"]:
                Pd = ch.domain_params(P, spec)
                assert (Pd["corpus"], Pd["protocol"], Pd["label_map"]) == (spec, own[spec], ch.LABEL_MAPS[spec])
    P = resolve("mdat", "emodb_urdu", "smoke")
    with pytest.raises(ParamsError, match="one protocol per corpus"):
        resolve("mdat", "emodb_urdu", "smoke", {"corpus_protocols": ["loso_speaker"]})
    with pytest.raises(ParamsError, match="for the main corpus 'emodb'"):
        resolve("mdat", "emodb_urdu", "smoke", {"corpus_protocols": ["kfold_val", "kfold_val"]})
    assert ch.domain_params({**P, "corpus_protocols": None}, "urdu")["protocol"] == "loso_speaker"


def test_urdu_leave_one_speaker_out_is_refused_naming_the_folds(two_real_corpora):
    from sercore.protocols import UnfitFoldError

    P = resolve("mdat", "urdu", "smoke", {"data_root": str(two_real_corpora), "protocol": "loso_speaker",
                                          "max_folds": None, "n_per_class": None})
    corpus = experiment.load_corpus(P)
    c = ch.protocols.confound(corpus.manifest)
    assert c["confounded"] and c["single_label_groups"] >= 1
    with pytest.raises(UnfitFoldError, match=rf"urdu: protocol 'loso_speaker' gives {c['single_label_groups']} of "
                                             rf"{c['groups']} fold\(s\) that are not a measurement: fold 'speaker_\w+': "
                                             r"its \d+ test utterance\(s\) hold 1 of the 4 classes of label map 'ser4'"):
        experiment.folds(corpus.manifest, P)
    flagged = experiment.folds(corpus.manifest, {**P, "unfit_folds": "flag"})
    assert sum(not f.comparable for f in flagged) == c["single_label_groups"]


def test_run_emodb_to_urdu_on_real_layouts_end_to_end(two_real_corpora, monkeypatch):
    monkeypatch.setenv("SERCORE_PROGRESS", "0")
    P = resolve("mdat", "emodb_urdu", "smoke", {"data_root": str(two_real_corpora), "kshot_ks": [0, 2]})
    corpus = experiment.load_corpus(P)
    r = ch.run(P, corpus)
    F = r.figures
    assert r.protocol["name"] == "loso_speaker" and r.protocol["comparable"] is True
    within = F["within"].set_index(["spec", "kind"])
    assert within.loc[("urdu", "mdat"), "protocol"] == "kfold_val" and within.loc[("urdu", "mdat"), "of folds"] == 5
    assert within.loc[("emodb", "mdat"), "protocol"] == "loso_speaker"
    assert F["cross"][["s", "t"]].drop_duplicates().values.tolist() == [["emodb", "urdu"], ["urdu", "emodb"]]
    assert (F["cross"]["modalities"] == "audio only (no transcripts)").all()
    n_urdu = int(F["data"].set_index("corpus").loc["URDU", "utterances"])
    assert (F["cross"][F["cross"].t == "urdu"]["test utterances"] == n_urdu).all()
    rows = {(c["table"], c["row"]): c for c in r.comparisons}
    iv = rows[("Table IV", "MDAT [EMODB->URDU]")]
    assert iv["reported"] == 73.23 and 0 <= iv["measured"] <= 100 and f"{n_urdu} test utterances" in iv["note"]
    assert ("Table V", "MDAT [EMODB->URDU, k=2]") in rows
    back = rows[("Table IV", "MDAT [URDU->EMODB]")]          # smoke trims training only: the target is whole
    n_emodb = int(F["data"].set_index("corpus").loc["EMODB", "utterances"])
    assert f"{n_emodb} test utterances (every target utterance)" in back["note"]
    urdu_ii = next(c for c in r.comparisons if c["table"] == "Table II" and "URDU" in c["note"])
    assert urdu_ii["comparable"] is False and "1 of 5 fold(s)" in urdu_ii["note"]
    assert "speaker and emotion are tied" in urdu_ii["note"]
    emodb_ii = next(c for c in r.comparisons if c["table"] == "Table II" and "EMODB" in c["note"])
    assert "comparable" not in emodb_ii and "1 of " in emodb_ii["note"]
    assert "`loso_speaker` (emodb), `kfold_val` (urdu)" in ch.describe_run(P)


def test_sercore_run_mdat_on_a_pair_of_real_corpora_writes_cross_corpus_rows(two_real_corpora, tmp_path,
                                                                             monkeypatch):
    """`sercore run mdat --dataset emodb_urdu --profile smoke` through papermill: the pair's params file
    (no hand-written papermill parameters), metrics.json with the cross-language comparison rows."""
    import json

    from sercore import cli

    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path / "results"))
    assert cli.main(["run", "mdat", "--dataset", "emodb_urdu", "--profile", "smoke",
                     "--data-root", str(two_real_corpora), "--in-process"]) == 0
    out = json.loads((tmp_path / "results" / "mdat" / "emodb_urdu" / "smoke" / "metrics.json").read_text())
    assert (out["dataset"], out["synthetic"], out["protocol"]["name"]) == ("emodb_urdu", False, "loso_speaker")
    assert out["extra"]["params"]["corpora"] == ["emodb", "urdu"]
    cross = {c["row"]: c for c in out["comparisons"] if c["table"] == "Table IV"}
    assert set(cross) == {f"{m} [{p}]" for m in ("MDAT", "Baseline multimodal Model")
                          for p in ("EMODB->URDU", "URDU->EMODB")}
    assert all(c["measured"] is not None and "test utterances" in c["note"] for c in cross.values())
    assert "the paper prints this same number for EMOVO->URDU too" in cross["MDAT [EMODB->URDU]"]["note"]
    assert "prints this same number" not in cross["MDAT [URDU->EMODB]"]["note"]
    assert {r["target"] for r in out["extra"]["cross"]} == {"URDU", "EMODB"}
    # every row states its OWN test set: a cross-language row the target corpus, URDU's within-corpus row its
    # own folds, never the main corpus's "1 of 10 folds; 44 test utterances"
    n = {r["target"]: r["test utterances"] for r in out["extra"]["cross"]}
    for pair, target in (("EMODB->URDU", "URDU"), ("URDU->EMODB", "EMODB")):
        row = cross[f"MDAT [{pair}]"]
        assert row["test_set"]["corpus"] == target and row["test_set"]["utterances"] == n[target]
        assert row["scope"].startswith(f"{target}: {n[target]:,} test utterances, 4 classes; every target utterance")
        # its test set is whole (the target corpus) and it carries its own 95% interval (from its own test
        # predictions), so it is decided against the paper's cell like the headline
        assert "of 10 folds" not in row["scope"] and row["scope_comparable"] is True
        lo, hi = row["interval"]
        assert lo <= row["measured"] + 0.005 and row["measured"] - 0.005 <= hi
        assert row["comparable"] is True and row["verdict"] == (
            "inside" if lo <= row["reported"] <= hi else "below" if hi < row["reported"] else "above")
    within = {c["test_set"]["corpus"]: c for c in out["comparisons"] if c["table"] == "Table II" and c["row"] == "MDAT"}
    assert within["URDU"]["scope"].startswith("URDU: ") and "1 of 5 kfold_val folds" in within["URDU"]["scope"]
    assert "1 of 10 loso_speaker folds" in within["EMODB"]["scope"]
    assert within["EMODB"]["comparable"] is False and within["URDU"]["comparable"] is False   # 1 fold of many
    kshot = [c for c in out["comparisons"] if c["table"] == "Table V"]
    assert kshot and all(c["test_set"]["corpus"] in ("URDU", "EMODB") for c in kshot)
    # the cropping to max_len is stated per corpus, never silent
    crop = {r["corpus"]: r for r in out["extra"]["cropping"]}
    assert set(crop) == {"EMODB", "URDU"} and crop["URDU"]["utterances"] == n["URDU"]
    assert crop["EMODB"]["audio kept per utterance (s)"] == pytest.approx(out["extra"]["params"]["max_len"]
                                                                        * out["extra"]["params"]["audio_stride"] / 100)


def test_without_text_the_ablations_that_are_the_same_network_are_trained_once():
    with_text = {k: ch.same_as(k, True) for k in ch.ABLATIONS}
    assert with_text == {k: k for k in ch.ABLATIONS}                # with text all seven differ
    assert {k: ch.same_as(k, False) for k in ch.ABLATIONS} == {1: 1, 2: 2, 3: 2, 4: 4, 5: 5, 6: 5, 7: 1}
    assert ch.effective_modules(1, False) == ("GA", "TE") and ch.effective_modules(4, False) == ()
    # the twins really are the same network: same parameters, same outputs after the same seed
    import torch

    for k in (3, 6, 7):
        j = ch.same_as(k, False)
        torch.manual_seed(0)
        a = ch.build(f"m{k}", 4, use_text=False, max_len=16, audio_stride=2)
        torch.manual_seed(0)
        b = ch.build(f"m{j}", 4, use_text=False, max_len=16, audio_stride=2)
        x = torch.randn(2, 30, 256)
        a.eval(), b.eval()
        assert torch.equal(a(x), b(x)), (k, j)


def test_cropping_states_what_max_len_drops_from_long_utterances():
    """The official Emo-DB runs 1.2 to 9.0 s: a model that sees max_len x audio_stride x 10 ms drops the end of
    the longer ones, and the chapter must say how much (never silently)."""
    rng = np.random.default_rng(0)
    frames = [120, 384, 900]                                     # 1.2 s, 3.84 s, 9.0 s at 100 frames/s
    feats = [{"audio": rng.standard_normal((n, 256)).astype("float32")} for n in frames]
    d = ch.Domain("emodb", "emodb", corpus=None, features=feats, has_text=False, whole=None, whole_features=feats)
    t = ch.cropping({"emodb": d}, {"max_len": 48, "audio_stride": 8}).loc["EMODB"]
    assert t["utterances"] == 3 and t["longest (s)"] == 9.0 and t["audio kept per utterance (s)"] == 3.84
    assert t["utterances cropped"] == 1 and t["audio dropped (s)"] == 5.16
    assert t["audio dropped (%)"] == pytest.approx(100 * 516 / 1404, abs=0.01)
    t = ch.cropping({"emodb": d}, {"max_len": 120, "audio_stride": 8}).loc["EMODB"]
    assert t["utterances cropped"] == 0 and t["audio dropped (s)"] == 0


def test_the_book_plans_a_pair_run_only_when_every_corpus_of_it_is_found(two_real_corpora, tmp_path):
    """``make book`` runs the three-language file (emodb_emovo_urdu) when Emo-DB, EMOVO and URDU are all found;
    the pair files are ``in_book: false`` (their corpora are inside the three-language run) and never planned."""
    from sercore.data.fixtures import write_fixtures
    from sercore.runs import plan_runs

    plan = plan_runs(str(two_real_corpora))                      # Emo-DB and URDU, no EMOVO
    assert ("mdat", "emodb") in plan
    assert ("mdat", "emodb_emovo_urdu") not in plan              # EMOVO missing
    assert ("mdat", "emodb_urdu") not in plan and ("mdat", "urdu") not in plan   # in_book: false
    write_fixtures(two_real_corpora, ["emovo"])
    plan = plan_runs(str(two_real_corpora))
    assert ("mdat", "emodb_emovo_urdu") in plan and ("mdat", "emodb_emovo") not in plan
    only_emodb = tmp_path / "only_emodb"
    only_emodb.mkdir()
    (only_emodb / "emodb").symlink_to(two_real_corpora / "emodb")
    plan = plan_runs(str(only_emodb))
    assert ("mdat", "emodb") in plan and ("mdat", "emodb_emovo_urdu") not in plan
