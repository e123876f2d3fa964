"""A content-addressed artefact store: files kept under their sha256.

Local folder by default; any fsspec URL (s3://, az://, gs://, file://) when the
project sets ``artefact_store`` or TRIMTAB_ARTEFACT_STORE. Writing the same
bytes twice stores them once; reading re-hashes and refuses bytes that no
longer match, so a corrupted model file never reaches production silently.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from trimtab.errors import ArtefactCorruptError, TrimtabError

CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredArtefact:
    sha256: str
    size: int


def file_sha256(path: Path) -> StoredArtefact:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return StoredArtefact(digest.hexdigest(), size)


class ArtefactStore:
    def __init__(self, url: str):
        self.url = url.rstrip("/")

    # fsspec loads when an artefact is first stored or read: a release without
    # artefacts (every `trimtab eval` snapshot of an LLM system) never needs it.
    @cached_property
    def _opened(self) -> tuple[Any, str]:
        import fsspec

        return fsspec.core.url_to_fs(self.url)

    @property
    def fs(self) -> Any:
        return self._opened[0]

    @property
    def root(self) -> str:
        return self._opened[1]

    @property
    def local(self) -> bool:
        return "file" in self.fs.protocol or "local" in self.fs.protocol

    def _path(self, sha256: str) -> str:
        return f"{self.root}/sha256/{sha256[:2]}/{sha256}"

    def put(self, source: Path) -> StoredArtefact:
        """Copy a file in under its hash; a no-op when those bytes are already stored."""
        stored = file_sha256(source)
        target = self._path(stored.sha256)
        if self.fs.exists(target) and self.fs.size(target) == stored.size:
            return stored
        partial = f"{target}.partial"
        if self.local:  # model files may be confidential: the folder is the owner's only
            os.makedirs(self.root, mode=0o700, exist_ok=True)
        self.fs.makedirs(self.fs._parent(target), exist_ok=True)
        self.fs.put_file(str(source), partial)
        if self.local:
            os.chmod(partial, 0o600)
        self.fs.mv(partial, target)
        return stored

    def exists(self, sha256: str) -> bool:
        return self.fs.exists(self._path(sha256))

    def get(self, sha256: str, destination: Path) -> Path:
        """Write the artefact to ``destination`` after checking every byte's hash."""
        source = self._path(sha256)
        if not self.fs.exists(source):
            raise TrimtabError(
                f"artefact sha256:{sha256[:12]} is not in the artefact store {self.url}. "
                "Fix: check artefact_store in trimtab.yaml points where the release was cut."
            )
        digest = hashlib.sha256()
        if destination.is_dir():
            raise TrimtabError(f"{destination} is a folder. Fix: name the file to write, "
                               f"e.g. {destination / 'model.joblib'}.")
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".partial")
        try:
            with self.fs.open(source, "rb") as reader, open(partial, "wb") as writer:
                while chunk := reader.read(CHUNK):
                    digest.update(chunk)
                    writer.write(chunk)
            if digest.hexdigest() == sha256:
                partial.replace(destination)
        finally:  # a failed or corrupted copy leaves nothing beside the target
            partial.unlink(missing_ok=True)
        if digest.hexdigest() != sha256:
            raise ArtefactCorruptError(
                f"artefact sha256:{sha256[:12]} in {self.url} is corrupted: its bytes now hash "
                f"to {digest.hexdigest()[:12]}. Refusing to use it. Fix: restore the file from "
                "a backup, or cut a new release from the original file."
            )
        return destination
