"""``automl report``: one self-contained HTML page about one run, or comparing several.

The page reads only the run folders (``run.json``, ``config.yaml``, the trial store, opened
read-only): it imports no plugin and no TensorFlow, so a run folder someone sent can be looked
at safely (the trust model of docs/plugins.md) and a report of a finished search takes about a
second. Plots are inline SVG (matplotlib), the architectures small inline SVG drawings, the
styles inline: the file opens with no network and can be mailed as it is.

Sections: best reward so far against trials told and against wall time; every trial's reward
by status; the controller's statistics per update; reward against parameters with the Pareto
front; the top 10 architectures (drawn, with validation and test metrics); each run's space,
strategy and execution settings.
"""

from __future__ import annotations

import datetime
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from automl._version import __version__
from automl.atomic_write import atomic_write
from automl.report import plots
from automl.report.drawing import architecture_svg
from automl.report.drawing import layer_labels
from automl.report.leaderboard import format_number
from automl.report.leaderboard import leaderboard_rows
from automl.report.leaderboard import metric_columns
from automl.report.leaderboard import run_labels
from automl.store import ModelFiles
from automl.store import RunFolder
from automl.store import TrialRecord
from automl.store import TrialStore
from automl.store import ranking_key

CONTROLLER_KEYS = ("mean_reward", "baseline", "entropy", "loss", "epsilon", "td_loss")
"""Statistics plotted per strategy update, in this order, when a run's updates have them."""

TOP = 10


@dataclass
class RunData:
    """What the page shows of one run, read once."""

    folder: RunFolder
    info: dict[str, Any]
    config: Any
    trials: list[TrialRecord]
    updates: list[dict[str, Any]]
    dataset: dict[str, Any]
    one_shot: dict[str, Any] | None = None
    """The one-shot phase's summary (scores, ranking, Kendall tau); None for other runs."""
    name: str = ""
    """How the page names the run (:func:`run_labels`): its folder's name, unless another
    run of the page has that name too."""

    def told(self) -> list[TrialRecord]:
        """Finished trials in the order their results were told."""
        done = [t for t in self.trials if t.told_seq is not None]
        return sorted(done, key=lambda t: t.told_seq or 0)


def load_run(folder: RunFolder, name: str | None = None) -> RunData:
    store = TrialStore(folder.db_path, readonly=True)
    try:
        trials, updates = store.trials(), store.strategy_updates()
        dataset = store.meta("dataset") or {}
        one_shot = store.meta("one_shot")
    finally:
        store.close()
    try:
        config = yaml.safe_load(folder.config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError, yaml.YAMLError):
        config = None
    return RunData(folder, folder.info(), config, trials, updates, dataset, one_shot,
                   name or folder.name)


def render_report(runs: Sequence[RunFolder | str | Path]) -> str:
    """The HTML page (a string) for ``runs`` (folders, or paths of run folders): one run, or a
    comparison of several."""
    folders = [run if isinstance(run, RunFolder) else RunFolder.open(run) for run in runs]
    data = [load_run(folder, label)
            for folder, label in zip(folders, run_labels(folders), strict=True)]
    names = [d.name for d in data]
    title = (f"automl report: {names[0]}" if len(data) == 1
             else f"automl comparison: {', '.join(names)}")
    sections = [
        _overview(data),
        '<div class="grid">',
        _figure("best-vs-trials", "Best reward so far, against trials", plots.best_so_far(
            {d.name: [(n, _full(t)) for n, t in enumerate(d.told(), start=1)] for d in data},
            xlabel="trials told", title="Best reward so far")),
        _figure("best-vs-time", "Best reward so far, against wall time", plots.best_so_far(
            {d.name: _by_time(d) for d in data}, xlabel="seconds since the search began",
            title="Best reward so far, against wall time")),
        _figure("rewards-by-status", "Every trial", plots.rewards_by_status(
            {d.name: [(t.trial_id, t.reward, t.status.value) for t in d.trials]
             for d in data})),
        _figure("reward-vs-params", "Reward against parameter count", plots.reward_vs_params(
            {d.name: [(float(t.params), float(t.reward)) for t in d.trials
                      if t.params and t.reward is not None and t.status.value == "complete"]
             for d in data})),
        "</div>",
        _controller(data),
        _top_table(folders, data),
        *(_settings(d) for d in data),
    ]
    generated = datetime.datetime.now().isoformat(timespec="seconds")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>"
            f"<p class=\"muted\">generated {generated} by automl {__version__}; this file is "
            f"self-contained (no network)</p>{''.join(s for s in sections if s)}"
            f"</body></html>\n")


def write_report(runs: Sequence[RunFolder | str | Path], out: str | Path) -> Path:
    """Render and write the page atomically; returns its path."""
    path = Path(out)
    atomic_write(path, render_report(runs))
    return path


# ---------------------------------------------------------------------------------- sections
def _by_time(d: RunData) -> list[tuple[float, float | None]]:
    told = d.told()
    if not told:
        return []
    start = min(t.created_at for t in d.trials)
    return [((t.finished_at or start) - start, _full(t)) for t in told]


def _full(trial: Any) -> float | None:
    """A trial's reward if it is a full result (a child stopped early is not the best)."""
    return None if trial.status.value == "stopped" else trial.reward


def _figure(ident: str, caption: str, svg: str) -> str:
    return (f'<section><h2>{html.escape(caption)}</h2><figure class="plot" id="{ident}">'
            f'{svg}</figure></section>')


def _overview(data: Sequence[RunData]) -> str:
    rows = []
    for d in data:
        counts: dict[str, int] = {}
        for t in d.trials:
            counts[t.status.value] = counts.get(t.status.value, 0) + 1
        rewarded = [t for t in d.trials if _full(t) is not None]
        best = (min(rewarded, key=lambda t: ranking_key(t.reward, t.metrics, t.trial_id))
                if rewarded else None)
        seconds = sum(t.train_seconds or 0.0 for t in d.trials)
        rows.append([d.name, _mode(d), str(d.info.get("strategy", "")),
                     str(d.dataset.get("task") or _task_name(d.config) or ""),
                     f"{sum(n for s, n in counts.items() if s not in ('running', 'pending'))}"
                     f" / {d.info.get('trials', '?')}",
                     ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
                     "-" if best is None else f"{best.reward:.4f} (trial {best.trial_id})",
                     f"{seconds:.1f}"])
    return ("<section><h2>Runs</h2>"
            + _table(["run", "mode", "strategy", "task", "finished / requested", "trials",
                      "best reward", "training seconds"], rows, ident="runs") + "</section>")


def _mode(d: RunData) -> str:
    """``standard``, or ``one-shot`` with the Kendall tau of its ranking against the reward of
    the retrained (or a note that the shared-weight phase has not finished)."""
    if d.info.get("mode") != "one-shot":
        return "standard"
    if d.one_shot is None:
        return "one-shot (phase not finished)"
    tau = d.one_shot.get("kendall_tau")
    note = d.one_shot.get("kendall_tau_note")
    shown = f"{tau:.3f}" if tau is not None else f"- ({note})" if note else "-"
    return f"one-shot (Kendall tau {shown})"


def _task_name(config: Any) -> str | None:
    task = config.get("task") if isinstance(config, dict) else None
    return task.get("name") if isinstance(task, dict) else task if isinstance(task, str) else None


def _controller(data: Sequence[RunData]) -> str:
    with_updates = {d.name: d.updates for d in data if d.updates}
    if not with_updates:
        why = ("the controller of a one-shot run learns in its shared-weight phase, whose "
               "per-epoch figures 'automl show RUN' lists"
               if any(d.info.get("mode") == "one-shot" for d in data)
               else "the strategy does not learn (random, grid, ...), or has not updated "
                    "yet (a learner waits for its first results)")
        return ('<section><h2>Controller progress</h2><p class="muted" id="no-controller">'
                f"No strategy updates were stored: {why}.</p></section>")
    keys = [k for k in CONTROLLER_KEYS
            if any(isinstance(u.get(k), (int, float)) for ups in with_updates.values()
                   for u in ups)]
    if not keys:
        return ""
    strategies = ", ".join(sorted({str(d.info.get("strategy")) for d in data if d.updates}))
    return _figure("controller", f"Controller progress per update ({strategies})",
                   plots.controller(with_updates, keys))


def _top_table(runs: Sequence[RunFolder], data: Sequence[RunData]) -> str:
    rows = leaderboard_rows(runs, top=TOP, statuses=("complete", "cached"))
    by_trial = {(d.name, t.trial_id): t for d in data for t in d.trials}
    metric_names = metric_columns(rows)
    test_names = metric_columns(rows, "test_metrics")
    shot = any(r.get("one_shot") is not None for r in rows)
    header = ["rank", *(["run"] if len(runs) > 1 else []), "trial", "architecture", "reward",
              *(["one-shot score"] if shot else []), *metric_names,
              *(f"test {m}" for m in test_names), "params", "seconds", "model kept"]
    kept = {(d.name, t) for d in data for t in ModelFiles(d.folder.path).kept()}
    body = []
    for r in rows:
        record = by_trial[(r["run"], r["trial"])]
        drawing = architecture_svg(record.architecture.get("layers", []),
                                   layer_labels(r["summary"]))
        body.append([
            str(r["rank"]), *([html.escape(r["run"])] if len(runs) > 1 else []),
            str(r["trial"]),
            f'{drawing}<div class="summary"><code>{html.escape(r["id"])}</code> '
            f'{html.escape(r["summary"])}</div>',
            _num(r["reward"]), *([_num(r.get("one_shot"))] if shot else []),
            *(_num(r["metrics"].get(m), m) for m in metric_names),
            *(_num(r["test_metrics"].get(m), m) for m in test_names),
            "-" if r["params"] is None else f"{r['params']:,}",
            "-" if r["train_seconds"] is None else f"{r['train_seconds']:.1f}",
            "yes" if (r["run"], record.cached_from if record.cached_from is not None
                      else record.trial_id) in kept else "-"])
    note = ('<p class="muted">One row per architecture, best first; test metrics are reported '
            "only, never used to choose; a kept model exports without retraining "
            "(<code>automl export RUN TRIAL -o model.keras</code>)."
            + (" The one-shot score is the reward under the shared weights, a ranking, not an "
               "accuracy; the reward is the retrained child's." if shot else "") + "</p>")
    if not rows:  # an empty table would say nothing
        note = ('<p class="muted">No trial has finished with a result yet (failed trials are '
                "listed by <code>automl leaderboard RUN --status failed</code>).</p>")
        return f"<section><h2>Top {TOP} architectures</h2>{note}</section>"
    return (f"<section><h2>Top {TOP} architectures</h2>{note}"
            + _table(header, body, ident="top", escape=False) + "</section>")


def _settings(d: RunData) -> str:
    info = d.info
    strategy = {"name": info.get("strategy"), **(info.get("strategy_settings") or {})}
    space_text = yaml.safe_dump(d.config, sort_keys=False) if d.config is not None else \
        "(config.yaml could not be read)"
    facts = {k: v for k, v in info.items()
             if k not in ("strategy_settings", "execution", "strategy")}
    return (f'<section class="settings"><h2>Settings of {html.escape(d.name)}</h2>'
            f'<div class="cols"><div><h3>Search space</h3><pre>{html.escape(space_text)}</pre>'
            f'</div><div><h3>Strategy</h3><pre>{html.escape(_dump(strategy))}</pre>'
            f'<h3>Execution</h3><pre>{html.escape(_dump(info.get("execution", {})))}</pre>'
            f'<h3>Run</h3><pre>{html.escape(_dump(facts))}</pre>'
            f'<h3>Data</h3><pre>{html.escape(_dump(d.dataset) if d.dataset else "-")}</pre>'
            f"</div></div></section>")


def _dump(value: Any) -> str:
    return yaml.safe_dump(json.loads(json.dumps(value, default=str)), sort_keys=False).strip()


def _num(value: Any, name: str = "") -> str:
    return html.escape(format_number(value, name))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, ident: str,
           escape: bool = True) -> str:
    cell = html.escape if escape else (lambda text: text)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return (f'<div class="scroll"><table id="{ident}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{body}</tbody></table></div>')


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5rem auto;max-width:1100px;
color:#222;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;border-bottom:1px solid #ddd;
padding-bottom:.2rem;margin-top:1.8rem}h3{font-size:.95rem;margin:.6rem 0 .2rem}
.muted{color:#666;font-size:.85rem}
figure.plot{margin:0}figure.plot svg{max-width:100%;height:auto}
table{border-collapse:collapse;font-size:.85rem;width:100%}
th,td{border-bottom:1px solid #e5e5e5;padding:.3rem .5rem;text-align:right;vertical-align:top}
th{background:#f6f6f6}td:nth-child(1),th:nth-child(1){width:2.5rem}
#top td:has(svg.arch){text-align:left}
#runs td,#runs th{text-align:left}
.summary{font-size:.78rem;color:#444;max-width:260px}
pre{background:#f7f7f9;border:1px solid #eee;padding:.5rem;font-size:.78rem;overflow:auto;
max-height:22rem}
.cols,.grid{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1rem}
.scroll{overflow-x:auto}
.grid section h2{margin-top:1rem}
"""

__all__ = ["RunData", "load_run", "render_report", "write_report"]
