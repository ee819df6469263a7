"""The manifest schema, label maps and the corpus registry."""
import pytest

from sercore import data
from sercore.data import CorpusNotFoundError, get_label_map, make_manifest
from sercore.data.labels import EMOTIONS, LABEL_MAPS


def _rows(labels):
    return [{"utt_id": f"u{i}", "label": lab, "speaker": f"s{i % 2}", "corpus": "toy"}
            for i, lab in enumerate(labels)]


def test_manifest_fills_columns_and_rejects_bad_records():
    m = make_manifest(_rows(["happy", "sad"]), root="/x", note="n")
    assert tuple(m.columns) == data.COLUMNS
    assert m["path"].isna().all() and m.attrs["note"] == "n"
    with pytest.raises(ValueError, match="unknown columns"):
        make_manifest([{**_rows(["happy"])[0], "emotion": "x"}])
    with pytest.raises(ValueError, match="duplicated utt_id"):
        make_manifest(_rows(["happy"]) * 2)
    with pytest.raises(ValueError, match="'label' is empty"):
        make_manifest([{**_rows(["happy"])[0], "label": None}])


def test_iemocap4_merges_excited_and_counts_drops():
    m = make_manifest(_rows(["happy", "excited", "frustrated", "neutral", "angry", "sad", "frustrated"]))
    out = get_label_map("iemocap4").apply(m)
    assert list(out["label"]) == ["happy", "excited", "neutral", "angry", "sad"]
    classes = LABEL_MAPS["iemocap4"].classes
    assert [classes[y] for y in out["y"]] == ["happy", "happy", "neutral", "angry", "sad"]
    assert out.attrs["dropped"] == {"frustrated": 2}


def test_emodb4_mdat_merges_boredom_into_sad():
    lm = get_label_map("emodb4_mdat")
    assert lm.target("boredom") == lm.target("sad") == lm.classes.index("sad")
    assert lm.target("disgust") is None and lm.target("fear") is None


def test_every_label_map_uses_canonical_names():
    for lm in LABEL_MAPS.values():
        assert set(lm.classes) <= set(EMOTIONS), lm.name
        assert set(lm.merge) <= set(EMOTIONS) and set(lm.merge.values()) <= set(lm.classes), lm.name
    with pytest.raises(KeyError, match="known"):
        get_label_map("iemocap5")


def test_missing_corpus_names_path_and_layout(tmp_path):
    with pytest.raises(CorpusNotFoundError) as e:
        data.load("emodb", tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "emodb") in msg and "wav/" in msg
    assert data.available(tmp_path) == ["synthetic"]


def test_data_list_on_the_real_copies(shared_data):
    out = data.listing(str(shared_data))
    lines = {ln.split()[0]: ln for ln in out.splitlines()[2:]}
    assert " 535 " in lines["emodb"].replace(",", "") and lines["emodb"].split()[1] == "yes"
    assert "7433" in lines["iemocap_text"].replace(",", "")
    assert lines["synthetic"].split()[1] == "yes"
    assert lines["meld"].split()[1] == ("yes" if (shared_data / "meld").is_dir() else "no")
