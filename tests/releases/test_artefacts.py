"""Classic models: artefacts go into a content-addressed store and come back verified."""

import pytest

import trimtab

CLASSIC = """\
  churn:
    kind: classic
    description: Predicts which B2B customers will not renew.
    owner: data-team@example.com
    tier: 3
    risk: minimal
    release:
      params: {threshold: 0.42}
      artefacts:
        model: models/churn.joblib
        features: models/features.json
"""


@pytest.fixture
def classic(project_dir):
    (project_dir / "models").mkdir()
    (project_dir / "models" / "churn.joblib").write_bytes(b"\x80\x04model-bytes" * 1000)
    (project_dir / "models" / "features.json").write_text('["tenure", "seats"]')
    path = project_dir / "trimtab.yaml"
    path.write_text(path.read_text() + CLASSIC)
    return project_dir


def test_release_records_artefact_hashes_and_stores_the_bytes(classic, database_url, tmp_path):
    ws = trimtab.connect(classic, database_url=database_url)
    made, _ = ws.release("churn")
    model = made.spec["artefacts"]["model"]
    assert model["size"] == len(b"\x80\x04model-bytes" * 1000)
    fetched = ws.fetch_artefact(made.short_id, "model", tmp_path / "out" / "churn.joblib")
    assert fetched.read_bytes() == (classic / "models" / "churn.joblib").read_bytes()


def test_new_model_bytes_make_a_new_release_and_old_stays_retrievable(classic, database_url,
                                                                     tmp_path):
    ws = trimtab.connect(classic, database_url=database_url)
    old, _ = ws.release("churn")
    (classic / "models" / "churn.joblib").write_bytes(b"retrained")
    new, created = ws.release("churn")
    assert created and new.id != old.id
    back = ws.fetch_artefact(old.id, "model", tmp_path / "old.joblib")
    assert back.read_bytes() == b"\x80\x04model-bytes" * 1000


def test_corrupted_artefact_is_refused(classic, database_url, tmp_path):
    ws = trimtab.connect(classic, database_url=database_url)
    made, _ = ws.release("churn")
    sha = made.spec["artefacts"]["model"]["sha256"]
    stored = classic / ".trimtab" / "artefacts" / "sha256" / sha[:2] / sha
    stored.write_bytes(b"bit rot")
    with pytest.raises(trimtab.ArtefactCorruptError, match="corrupted"):
        ws.fetch_artefact(made.id, "model", tmp_path / "x.joblib")
    assert not (tmp_path / "x.joblib").exists()


def test_any_fsspec_url_can_hold_artefacts(classic, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIMTAB_ARTEFACT_STORE", f"file://{tmp_path / 'bucket'}")
    ws = trimtab.connect(classic, database_url=database_url)
    made, _ = ws.release("churn")
    sha = made.spec["artefacts"]["features"]["sha256"]
    assert (tmp_path / "bucket" / "sha256" / sha[:2] / sha).exists()
    out = ws.fetch_artefact(made.id, "features", tmp_path / "features.json")
    assert out.read_text() == '["tenure", "seats"]'


def test_artefact_cli_and_unknown_name(classic, cli, tmp_path):
    made = trimtab.connect(classic).get_release  # noqa: F841 - the cli fixture owns the store
    cli("release", "churn")
    release_id = cli("releases", "churn", "--json").stdout.split('"id": "')[1][:12]
    cli("artefact", release_id, "model", "--out", str(tmp_path / "m.joblib"))
    assert (tmp_path / "m.joblib").read_bytes().startswith(b"\x80\x04model")
    result = cli("artefact", release_id, "weights", "--out", str(tmp_path / "w"), expect=2)
    assert "has no artefact 'weights'" in result.output and "model" in result.output


def test_artefact_out_that_cannot_take_a_file_is_refused_and_leaves_nothing(classic, cli,
                                                                            tmp_path):
    cli("release", "churn")
    release_id = cli("releases", "churn", "--json").stdout.split('"id": "')[1][:12]
    out = tmp_path / "out"
    out.mkdir()
    (out / "a-file").write_text("")
    result = cli("artefact", release_id, "model", "--out", str(out / "a-file" / "m.joblib"),
                 expect=2)
    assert "error: --out" in result.output and "a-file is a file, not a folder" in result.output
    (out / "a-folder").mkdir()
    result = cli("artefact", release_id, "model", "--out", str(out / "a-folder"), expect=2)
    assert "is a folder, not a file. Fix:" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["a-file", "a-folder"]  # no .partial
    made = cli("artefact", release_id, "model", "--out", str(out / "new" / "m.joblib"))
    assert "sha256 verified" in made.output  # a missing folder is made


def test_a_failed_fetch_removes_its_partial_file(classic, database_url, tmp_path, monkeypatch):
    from trimtab.releases import artefacts

    ws = trimtab.connect(classic, database_url=database_url)
    made, _ = ws.release("churn")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(trimtab.TrimtabError, match="is a folder"):
        ws.fetch_artefact(made.id, "model", out)
    monkeypatch.setattr(artefacts, "CHUNK", 10)

    class DiskFillsUp:  # the copy fails half way, as on a full disk
        def __init__(self):
            self.chunks = 0

        def update(self, chunk):
            self.chunks += 1
            if self.chunks > 3:
                raise OSError(28, "No space left on device")

    monkeypatch.setattr(artefacts, "hashlib", type("H", (), {"sha256": DiskFillsUp}))
    with pytest.raises(OSError, match="No space left"):
        ws.fetch_artefact(made.id, "model", out / "m.joblib")
    assert list(out.iterdir()) == []



def test_missing_artefact_file_is_a_project_error(classic):
    (classic / "models" / "features.json").unlink()
    with pytest.raises(trimtab.ProjectError, match="models/features.json' does not exist"):
        trimtab.load_project(classic / "trimtab.yaml")
