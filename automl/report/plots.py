"""The report's plots: matplotlib figures rendered to inline SVG text (no files, no network).

Each function takes plain series (already read from the stores) and returns one ``<svg>``
element, so the HTML page carries its plots inside itself. Several runs are overlaid in one
figure, one colour per run. matplotlib's Agg backend is chosen before pyplot is imported, so no
display is needed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

STATUS_COLOURS = {"complete": "#2b7bba", "cached": "#8fbc5a", "stopped": "#9467bd",
                  "failed": "#d62728", "running": "#ff9f1c", "pending": "#aaaaaa"}
RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
               "#bcbd22")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.grid": True,
                         "grid.alpha": 0.3, "axes.spines.top": False,
                         "axes.spines.right": False})
    return plt


def _svg(fig: Any) -> str:
    plt = _pyplot()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: inline in HTML


def _integer_ticks(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _no_data(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
            color="#666666")


def run_colour(index: int) -> str:
    return RUN_COLOURS[index % len(RUN_COLOURS)]


def best_so_far(series: Mapping[str, Sequence[tuple[float, float | None]]], *,
                xlabel: str, title: str) -> str:
    """Best reward so far against ``x`` (trials told, or seconds), one step line per run;
    ``series`` maps a run to its ``(x, reward or None)`` points in the order they were told."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for i, (run, points) in enumerate(series.items()):
        xs, best, current = [], [], -math.inf
        for x, reward in points:
            if reward is not None:
                current = max(current, reward)
            if current > -math.inf:
                xs.append(x)
                best.append(current)
        if xs:
            ax.step(xs, best, where="post", color=run_colour(i), label=run, linewidth=1.8)
    if not ax.lines:  # blank axes would look like a plotting fault
        _no_data(ax, "no trial has a result yet")
    if xlabel.startswith("trials"):
        _integer_ticks(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("best reward so far")
    ax.set_title(title)
    if len(series) > 1 and ax.lines:
        ax.legend(fontsize=8)
    return _svg(fig)


STATUS_MARKERS = {"complete": "o", "cached": "s", "stopped": "D", "failed": "x",
                  "running": "^", "pending": "v"}


def rewards_by_status(series: Mapping[str, Sequence[tuple[int, float | None, str]]]) -> str:
    """Every trial's reward against its trial number by status (failed trials, which have no
    reward, sit on the bottom edge as crosses): one run is coloured by status; several are
    coloured by run, with one marker shape per status."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    rewards = [r for points in series.values() for _, r, _ in points if r is not None]
    # below every reward, so that a failure never sits on a real result's height
    floor = min(rewards) - 0.08 * ((max(rewards) - min(rewards)) or 1.0) if rewards else 0.0
    labelled = False
    for i, (run, points) in enumerate(series.items()):
        for status, colour in STATUS_COLOURS.items():
            chosen = [(t, floor if r is None else r) for t, r, s in points if s == status]
            if not chosen:
                continue
            one = len(series) == 1
            ax.scatter([t for t, _ in chosen], [r for _, r in chosen], s=18,
                       color=colour if one else run_colour(i), marker=STATUS_MARKERS[status],
                       label=status if one else f"{run}: {status}", alpha=0.8)
            labelled = True
    _integer_ticks(ax)
    ax.set_xlabel("trial")
    ax.set_ylabel("reward")
    ax.set_title("Every trial's reward, by status (failed: on the floor)")
    if labelled:
        ax.legend(fontsize=7, ncol=2)
    return _svg(fig)


def controller(series: Mapping[str, Sequence[Mapping[str, Any]]], keys: Sequence[str]) -> str:
    """The controller's statistics per update (REINFORCE: mean batch reward, baseline,
    entropy; DQN: epsilon, TD loss), one panel per statistic, runs overlaid."""
    plt = _pyplot()
    columns = min(len(keys), 4 if len(keys) == 4 else 3)
    rows = math.ceil(len(keys) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(max(3.2 * columns, 6.4), 2.6 * rows),
                             squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    for ax, key in zip(axes.flat, keys, strict=False):
        for i, (run, updates) in enumerate(series.items()):
            points = [(n, u[key]) for n, u in enumerate(updates, start=1)
                      if isinstance(u.get(key), (int, float))]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], color=run_colour(i),
                        label=run, linewidth=1.4, marker="." if len(points) < 30 else None)
        ax.set_title(key.replace("_", " "))
        ax.set_xlabel("update")
        _integer_ticks(ax)
    if len(series) > 1:
        axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return _svg(fig)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both counts (fewer parameters, higher reward),
    in increasing parameter count."""
    front: list[tuple[float, float]] = []
    for params, reward in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or reward > front[-1][1]:
            front.append((params, reward))
    return front


def reward_vs_params(series: Mapping[str, Sequence[tuple[float, float]]]) -> str:
    """Reward against parameter count (log scale), the Pareto front of each run as a line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for i, (run, points) in enumerate(series.items()):
        if not points:
            continue
        colour = run_colour(i)
        ax.scatter([p for p, _ in points], [r for _, r in points], s=16, color=colour,
                   alpha=0.45, marker=MARKERS[i % len(MARKERS)], label=run)
        front = pareto_front(points)
        ax.step([p for p, _ in front], [r for _, r in front], where="post", color=colour,
                linewidth=1.6)
        ax.scatter([p for p, _ in front], [r for _, r in front], s=40, facecolors="none",
                   edgecolors=colour, linewidths=1.4,
                   label=f"{run}: Pareto front" if len(series) > 1 else "Pareto front")
    if any(points for points in series.values()):
        ax.set_xscale("log")
        ax.legend(fontsize=7)
    else:  # no complete trial yet, or a run on a benchmark table (no parameter counts)
        _no_data(ax, "no complete trial with a parameter count")
    ax.set_xlabel("parameters")
    ax.set_ylabel("reward")
    ax.set_title("Reward against size (Pareto front: nothing smaller is better)")
    return _svg(fig)


__all__ = ["best_so_far", "controller", "pareto_front", "reward_vs_params",
           "rewards_by_status"]
