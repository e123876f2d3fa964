"""The Workspace's methods for quality: eval runs, human review, flags, sampled scoring,
scores and ground-truth labels.

A mixin of trimtab.workspace.Workspace, which gives the ``store``, ``project``,
``authorize`` and the other parts these methods use; each hands them to the
package that does the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trimtab.errors import TrimtabError

if TYPE_CHECKING:
    from trimtab.observe.label_metrics import LabelMetrics
    from trimtab.quality.changes import Change
    from trimtab.quality.evaluation import EvalReport, Progress
    from trimtab.quality.labels import Labelled
    from trimtab.quality.review import Pending, ReviewProgress, ReviewStats
    from trimtab.quality.sampling import Tick
    from trimtab.quality.weekly import WeekScore
    from trimtab.store.evals import CaseResult, EvalRun
    from trimtab.store.flags import Flag
    from trimtab.store.labels import Label
    from trimtab.store.reviews import Review
    from trimtab.store.reviews import Sample as ReviewSample
    from trimtab.store.sampling import ReleaseQuality
    from trimtab.store.scores import Score


class QualityMethods:
    """Quality: mixed into Workspace."""

    def eval(self, system: str, *, release: str | None = None, suite: str | None = None,
             baseline: str | None = None, progress: Progress | None = None,
             concurrency: int | None = None,
             predictions: str | Path | Mapping[str, Any] | None = None) -> EvalReport:
        """Run ``system``'s eval suites on a release (default: as declared now) and store
        the runs; see trimtab.quality.evaluation.

        ``predictions`` (a classic model, which trimtab cannot call): a JSONL/CSV file
        or a ``{case id: prediction}`` mapping of the team's own predictions on the
        suite's dataset, scored instead of calling; see trimtab.quality.predictions."""
        from trimtab.quality.evaluation import evaluate

        if predictions is not None:
            from trimtab.quality import predictions as given
            from trimtab.quality.evaluation import resolve_release

            if baseline is not None:
                raise TrimtabError("--baseline compares cases run now with a stored run; with "
                                   "--predictions, compare the stored runs with `trimtab evals`.")
            actor = self.authorize("eval.run", system)
            target = resolve_release(self, system, release)
            source = Path(predictions) if isinstance(predictions, str | Path) else predictions
            return given.score(self, system, target, source, suite=suite, actor=actor)
        return evaluate(self, system, release=release, suite=suite, baseline=baseline,
                        progress=progress, concurrency=concurrency,
                        actor=self.authorize("eval.run", system))

    def review_sample(self, system: str, *, week: str | None = None, size: int | None = None,
                      seed: int | None = None) -> tuple[ReviewSample, bool]:
        """This ISO week's (or ``week``'s) review sample, drawn once; (sample, drawn now)."""
        from trimtab.quality import review

        return review.draw(self.store, self.project, system, week=week, size=size, seed=seed,
                           actor=self.authorize("review.sample", system))

    def review_next(self, system: str) -> Pending | None:
        """The next sampled call the acting reviewer has not reviewed (None: all done)."""
        from trimtab.quality import review

        return review.next_call(self.store, system, self.authorize("review.add", system))

    def review(self, call_id: str, verdict: str, *, score: int | None = None,
               labels: list[str] | None = None, comment: str | None = None) -> Review:
        """A reviewer's verdict on a call (pass or fail, a 1-5 score, labels); once per
        reviewer and call; audited, and kept as the call's ``review`` score."""
        from trimtab.quality import review

        system = self.call(call_id).system
        return review.record(self.store, call_id, reviewer=self.authorize("review.add", system),
                             verdict=verdict, score=score, labels=labels or [],
                             comment=comment)

    def review_stats(self, system: str, *, since: datetime | None = None) -> ReviewStats:
        """Reviewed pass rate (Wilson interval), reviewers' agreement, and each sampled
        scorer's (an LLM judge's) agreement with people on the calls both judged."""
        from trimtab.quality import review

        self.project.system(system)
        return review.stats(self.store, system, since=since)

    def review_progress(self, system: str, *, reviewer: str | None = None,
                        weeks: int = 8) -> ReviewProgress:
        """The newest sample's progress (by anyone and by ``reviewer``) and the weekly
        pass rate of reviewed calls (the dashboard's quality trend)."""
        from trimtab.quality import review

        self.project.system(system)
        return review.progress(self.store, system, reviewer=reviewer, weeks=weeks)

    def flag(self, call_id: str, reason: str | None = None) -> tuple[Flag, bool]:
        """Flag a call for human review: it always joins its week's review sample;
        (the flag, whether it is new). Audited."""
        from trimtab.quality import review

        system = self.call(call_id).system
        return review.flag(self.store, call_id, reason=reason,
                           actor=self.authorize("call.flag", system))

    def flags(self, system: str, *, limit: int = 100) -> list[Flag]:
        """Calls of ``system`` flagged for review, newest first."""
        from trimtab.store import flags as flag_store

        self.project.system(system)
        with self.store.read() as conn:
            return flag_store.for_system(conn, system, limit=limit)

    def score_sample(self, system: str | None = None, *,
                     now: datetime | None = None) -> list[Tick]:
        """One tick of sampled scoring now (what the monitor does each cycle): the next
        drawn calls of ``system`` (default: every system with ``scoring:``) scored."""
        from trimtab.quality import sampling

        self.authorize("score.sample", system)
        if system is not None:
            return [sampling.tick(self.store, self.project, system, now=now)]
        return sampling.tick_all(self.store, self.project, now=now)

    def quality_by_release(self, system: str, *, window: timedelta = timedelta(days=7),
                           name: str | None = None) -> list[ReleaseQuality]:
        """``quality_score`` per release: each sampled scorer's mean and passes."""
        from trimtab.quality import sampling

        self.project.system(system)
        return sampling.by_release(self.store, system, window=window, name=name)

    def quality_weekly(self, system: str, *, weeks: int = 8,
                       now: datetime | None = None) -> list[WeekScore]:
        """The weekly quality score (people's, else the sampled scorers'), its Wilson
        95% interval and trend, oldest week first."""
        from trimtab.quality import weekly

        self.project.system(system)
        return weekly.weekly(self.store, system, weeks=weeks, now=now)

    def changed_since(self, ref: str, systems: list[str] | None = None) -> list[Change]:
        """Which systems with eval suites (or ``systems``) changed since git ``ref``: their
        release content or their suites differ from what the ref held."""
        from trimtab.quality.changes import changed_since

        return changed_since(self.project, ref, systems)

    def eval_runs(self, system: str, *, suite: str | None = None, release: str | None = None,
                  limit: int = 50) -> list[EvalRun]:
        """Stored eval runs of a system, newest first."""
        from trimtab.quality import runs

        return runs.runs(self.store, system, suite=suite, release=release, limit=limit)

    def eval_results(self, run_id: str) -> tuple[EvalRun, list[CaseResult]]:
        """One stored run (id or prefix) and its cases."""
        from trimtab.quality import runs

        return runs.run_with_results(self.store, run_id)

    def score(self, call_id: str, name: str, value: float, comment: str | None = None) -> Score:
        """Record a quality score on a recorded call (a reviewer's or an evaluator's
        verdict, like a Langfuse score); audited. ``quality_score`` rules average them."""
        from trimtab.observe import scores

        system = self.call(call_id).system
        return scores.add(self.store, call_id, name, value, comment,
                          actor=self.authorize("score.add", system))

    def scores(self, call_id: str) -> list[Score]:
        from trimtab.observe import scores

        return scores.for_call(self.store, call_id)

    def label(self, call: str | Mapping[str, Any] | list[tuple[str, Any]], value: Any = None,
              *, system: str | None = None, key: str | None = None,
              since: datetime | None = None, output_field: str | None = None,
              skip_unknown: bool = False, at: datetime | None = None) -> Labelled:
        """Store true labels that arrived after the prediction: ``ws.label(call_id,
        "fraud")``, or many as ``{ref: value}`` / ``[(ref, value), ...]``. A ref is a
        call id, or with ``key=`` the value of that tag on a call of ``system``.
        Labelling a call again keeps the latest label (its revision counts up);
        every label is checked before any is stored; one audit entry per batch.
        ``at`` is when the truth became known (default now), to load history."""
        from trimtab.quality import labels

        if isinstance(call, str):
            if value is None:
                raise TrimtabError("label(): give the true label, e.g. ws.label(call_id, "
                                   "'fraud') or ws.label(call_id, 42.5).")
            if key is None:
                call = self.call(call).id  # a unique prefix is enough for one call
            rows = [labels.LabelRow(call, value, "label()")]
        else:
            pairs = call.items() if isinstance(call, Mapping) else call
            rows = [labels.LabelRow(str(ref), v, f"[{i}]") for i, (ref, v) in enumerate(pairs)]
        return labels.apply(self.store, rows, actor_for=self._labeller, source="label()",
                            system=system, key=key, since=since, output_field=output_field,
                            skip_unknown=skip_unknown, now=at)

    def label_file(self, path: str | Path, *, system: str | None = None, key: str | None = None,
                   id_column: str | None = None, value_column: str = "label",
                   since: datetime | None = None, output_field: str | None = None,
                   skip_unknown: bool = False, at: datetime | None = None) -> Labelled:
        """Labels from a CSV or Parquet file: a column of call ids (``call_id``) or of
        a tag's values (the column named like ``key``), and a ``label`` column."""
        from trimtab.quality import labels

        path = Path(path)
        rows = labels.read_file(path, ref_column=id_column or key or "call_id",
                                value_column=value_column)
        return labels.apply(self.store, rows, actor_for=self._labeller, source=str(path),
                            system=system, key=key, since=since, output_field=output_field,
                            skip_unknown=skip_unknown, now=at)

    def _labeller(self, system: str, envs: set[str]) -> str:
        return self.authorize("label.add", system)

    def label_metrics(self, system: str, *, window: timedelta = timedelta(days=7),
                      env: str | None = None, end: datetime | None = None) -> list[LabelMetrics]:
        """Accuracy, per-class precision/recall/F1, macro-F1, MAE and RMSE of the labels
        that arrived in the window: all releases first, then each release."""
        from trimtab.observe import label_metrics

        return label_metrics.compute(self.store, system, window=window, end=end, env=env)

    def label_of(self, call_id: str) -> Label | None:
        """The current label of a call (None if it has none)."""
        from trimtab.store import calls as call_store
        from trimtab.store import labels as label_store

        with self.store.read() as conn:
            return label_store.get(conn, call_store.get(conn, call_id).id)

