"""``sercore data fetch``: download, resume, checksum, safe extraction, layout, licensed corpora.

Everything runs against a local HTTP server on 127.0.0.1 (a thread, ephemeral
port) serving fixture archives built in ``tmp_path``; no test touches the network.
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import soundfile as sf

from sercore import cli
from sercore.data import fetch as F

EMODB_FILES = ("03a01Fa.wav", "08b02Wb.wav")      # speaker, text, emotion, version: a valid Emo-DB name


# ----------------------------------------------------------------------------- fixtures

class _Server:
    """Serves ``files`` (url path -> bytes) with Range support and records every request."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []   # (path, Range header)
        self.cut_first: set[str] = set()                   # paths whose first answer stops half-way
        self.ignore_range = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):                    # keep pytest output clean
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                outer.requests.append((self.path, rng))
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if rng and not outer.ignore_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                chunk = body[start:]
                self.send_header("Content-Length", str(len(chunk)))
                self.end_headers()
                if self.path in outer.cut_first:
                    outer.cut_first.discard(self.path)
                    self.wfile.write(chunk[: len(chunk) // 2])   # then drop the connection
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(chunk)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


def _wav_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(seed)
    sf.write(buf, (0.1 * rng.standard_normal(1600)).astype("float32"), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _emodb_zip(extra: dict[str, bytes] | None = None, prefix: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, name in enumerate(EMODB_FILES):
            zf.writestr(f"{prefix}wav/{name}", _wav_bytes(i))
        zf.writestr(f"{prefix}erkennung.txt", "not read\n")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar_gz(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for info, data in entries:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _file_info(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _source(url: str, filename: str, sha256: str | None = None, corpus: str = "emodb") -> dict:
    return {"tiny": F.Source(corpus=corpus, files=(F.Archive(url, filename, sha256=sha256),),
                             is_root=F.SOURCES[corpus].is_root, homepage="http://example.invalid/",
                             terms="test fixture")}


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


# ----------------------------------------------------------------------------- good archives

def test_zip_with_pinned_checksum_lands_in_the_loader_layout(server, tmp_path):
    body = _emodb_zip(prefix="download/")           # a wrapper folder, as many archives have
    server.files["/emodb.zip"] = body
    root = tmp_path / "data"
    out = F.fetch("tiny", root, sources=_source(server.url("/emodb.zip"), "emodb.zip", _sha(body)),
                  progress=False)
    assert out == root / "emodb"
    assert sorted(p.name for p in (out / "wav").iterdir()) == sorted(EMODB_FILES)
    from sercore import data
    df = data.load("emodb", root)
    assert sorted(df["utt_id"]) == ["03a01Fa", "08b02Wb"] and set(df["label"]) == {"happy", "angry"}
    # the archive is removed after a successful install, no staging folder is left behind
    assert not (root / ".downloads" / "emodb.zip").exists()
    assert [p.name for p in root.iterdir() if p.name.startswith(".emodb")] == []
    # a second fetch finds the corpus and makes no request
    n = len(server.requests)
    assert F.fetch("tiny", root, sources=_source(server.url("/emodb.zip"), "emodb.zip", _sha(body)),
                   progress=False) == out
    assert len(server.requests) == n


def test_tar_gz_without_checksum_locks_the_first_digest(server, tmp_path):
    entries = [_file_info(f"URDU-Dataset-abc/{folder}/{name}", _wav_bytes(i))
               for i, (folder, name) in enumerate([("Angry", "SM1_F1_A01.wav"), ("Sad", "SF2_F3_S07.wav")])]
    body = _tar_gz(entries)
    server.files["/urdu.tar.gz"] = body
    root = tmp_path / "data"
    src = _source(server.url("/urdu.tar.gz"), "urdu.tar.gz", None, corpus="urdu")
    out = F.fetch("tiny", root, sources=src, progress=False, keep_archives=True)
    assert out == root / "urdu" and (out / "Angry" / "SM1_F1_A01.wav").is_file()
    lock = json.loads((root / ".downloads" / F.LOCK_NAME).read_text())
    assert lock[server.url("/urdu.tar.gz")]["sha256"] == _sha(body)

    # the upstream file changes: a forced re-download must match the locked digest
    server.files["/urdu.tar.gz"] = _tar_gz(entries[:1])
    with pytest.raises(F.ChecksumError) as e:
        F.fetch("tiny", root, sources=src, progress=False, force=True)
    msg = str(e.value)
    assert "urdu.tar.gz" in msg and _sha(body) in msg and _sha(server.files["/urdu.tar.gz"]) in msg
    assert "lock file" in msg
    assert (root / "urdu" / "Sad" / "SF2_F3_S07.wav").is_file()    # the working copy is untouched


# ----------------------------------------------------------------------------- refusals

def test_checksum_mismatch_names_the_file_and_extracts_nothing(server, tmp_path):
    body = _emodb_zip()
    server.files["/bad.zip"] = body
    root = tmp_path / "data"
    want = "0" * 64
    with pytest.raises(F.ChecksumError) as e:
        F.fetch("tiny", root, sources=_source(server.url("/bad.zip"), "bad.zip", want), progress=False)
    msg = str(e.value)
    assert str(root / ".downloads" / "bad.zip") in msg and want in msg and _sha(body) in msg
    assert (root / ".downloads" / "bad.zip").read_bytes() == body          # nothing deleted
    assert not (root / "emodb").exists()
    assert [p.name for p in root.iterdir()] == [".downloads"]             # nothing extracted


@pytest.mark.parametrize("evil", ["../escaped.txt", "wav/../../escaped.txt", "/tmp/sercore-abs-escape.txt"])
def test_zip_member_escaping_the_folder_is_refused(server, tmp_path, evil):
    body = _emodb_zip(extra={evil: b"pwned"})
    server.files["/evil.zip"] = body
    root = tmp_path / "data"
    with pytest.raises(F.UnsafeArchiveError, match="outside the target folder"):
        F.fetch("tiny", root, sources=_source(server.url("/evil.zip"), "evil.zip", _sha(body)), progress=False)
    assert not (tmp_path / "escaped.txt").exists() and not (root / "escaped.txt").exists()
    assert not (root / "emodb").exists()
    assert [p.name for p in root.iterdir()] == [".downloads"]             # not even the good members


def test_tar_symlink_pointing_outside_is_refused(tmp_path):
    link = tarfile.TarInfo("emodb/wav/link.wav")
    link.type, link.linkname = tarfile.SYMTYPE, "../../../../etc/passwd"
    body = _tar_gz([_file_info("emodb/wav/03a01Fa.wav", _wav_bytes(0)), (link, None)])
    arc = tmp_path / "evil.tar.gz"
    arc.write_bytes(body)
    target = tmp_path / "out"
    with pytest.raises(F.UnsafeArchiveError, match="points outside"):
        F.safe_extract(arc, target)
    assert list(target.iterdir()) == []
    # a link that stays inside is fine
    ok = tarfile.TarInfo("emodb/wav/same.wav")
    ok.type, ok.linkname = tarfile.SYMTYPE, "03a01Fa.wav"
    arc.write_bytes(_tar_gz([_file_info("emodb/wav/03a01Fa.wav", _wav_bytes(0)), (ok, None)]))
    F.safe_extract(arc, target)
    assert (target / "emodb" / "wav" / "same.wav").read_bytes() == _wav_bytes(0)


def test_tar_dotdot_member_is_refused(tmp_path):
    arc = tmp_path / "evil.tar.gz"
    arc.write_bytes(_tar_gz([_file_info("ok.txt", b"x"), _file_info("../escaped.txt", b"pwned")]))
    with pytest.raises(F.UnsafeArchiveError):
        F.safe_extract(arc, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out" / "ok.txt").exists()


# ----------------------------------------------------------------------------- resume

def test_interrupted_download_resumes_with_range(server, tmp_path):
    body = _emodb_zip() + b""                       # ~7 kB
    server.files["/emodb.zip"] = body
    server.cut_first.add("/emodb.zip")              # the first answer stops half-way, connection dropped
    root = tmp_path / "data"
    F.fetch("tiny", root, sources=_source(server.url("/emodb.zip"), "emodb.zip", _sha(body)),
            progress=False, keep_archives=True)
    assert (root / ".downloads" / "emodb.zip").read_bytes() == body
    ranges = [r for p, r in server.requests if p == "/emodb.zip"]
    assert ranges[0] is None and ranges[1] == f"bytes={len(body) // 2}-"
    assert (root / "emodb" / "wav" / "03a01Fa.wav").is_file()


def test_part_file_from_an_earlier_run_is_resumed(server, tmp_path):
    body = bytes(range(256)) * 300
    server.files["/blob.bin"] = body
    downloads = tmp_path / "dl"
    downloads.mkdir()
    (downloads / "blob.bin.part").write_bytes(body[:10_000])
    arc = F.Archive(server.url("/blob.bin"), "blob.bin", sha256=_sha(body), extract=False)
    path = F.download(arc, downloads, progress=False)
    assert path.read_bytes() == body and not (downloads / "blob.bin.part").exists()
    assert server.requests == [("/blob.bin", "bytes=10000-")]
    # a server that ignores Range sends everything again: the download restarts cleanly
    server.ignore_range = True
    path.unlink()
    (downloads / "blob.bin.part").write_bytes(body[:5_000])
    assert F.download(arc, downloads, progress=False).read_bytes() == body


# ----------------------------------------------------------------------------- licensed, CLI

def test_licensed_corpus_prints_instructions_without_network(server, tmp_path, capsys, monkeypatch):
    def no_network(*a, **k):
        raise AssertionError("a licensed corpus must not open a connection")
    monkeypatch.setattr(F.urllib.request, "urlopen", no_network)
    rc = cli.main(["data", "fetch", "iemocap", "--data-root", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc != 0
    assert "licensed" in err and "sail.usc.edu" in err
    assert str(tmp_path / "iemocap") in err and "Session1/ ... Session5/" in err   # the loader's layout
    for name in ("msp_improv", "mosei", "iemocap_text"):
        with pytest.raises(F.LicensedCorpusError, match=str(tmp_path)):
            F.fetch(name, tmp_path)
    assert server.requests == [] and list(tmp_path.iterdir()) == []


def test_cli_fetch(server, tmp_path, capsys, monkeypatch):
    body = _emodb_zip()
    server.files["/download.zip"] = body
    monkeypatch.setitem(F.SOURCES, "emodb", F.Source(
        corpus="emodb", files=(F.Archive(server.url("/download.zip"), "download.zip"),),
        is_root=F.SOURCES["emodb"].is_root))
    monkeypatch.setenv("SERCORE_PROGRESS", "0")
    root = tmp_path / "data"
    assert cli.main(["data", "fetch", "emodb", "--data-root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "2 utterances" in out and str(root / "emodb") in out and "recorded in" in out
    assert cli.main(["data", "fetch", "emodb", "--data-root", str(root)]) == 0      # already there
    assert "already at" in capsys.readouterr().out
    # --force with a corrupted upstream copy: exit 1, the error names both digests
    server.files["/download.zip"] = body[:-10] + b"0123456789"
    assert cli.main(["data", "fetch", "emodb", "--data-root", str(root), "--force"]) == 1
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and _sha(body) in err
    assert (root / "emodb" / "wav" / "03a01Fa.wav").is_file()
    assert cli.main(["data", "fetch", "nosuch", "--data-root", str(root)]) == 1
    assert "unknown corpus 'nosuch'" in capsys.readouterr().err


def test_registry_names_a_loader_and_a_url_for_every_public_corpus():
    from sercore import data
    for name, src in F.SOURCES.items():
        assert src.corpus in data.CORPORA, name
        assert all(a.url.startswith("https://") or a.url.startswith("http://") for a in src.files), name
    assert {"emodb", "emovo", "urdu", "meld"} <= set(F.SOURCES)
    assert {"iemocap", "msp_improv", "mosei"} <= set(F.LICENSED)
    assert not set(F.SOURCES) & set(F.LICENSED)
