"""The report's pieces without a run: the Pareto front, a DQN's controller panels, a drawing."""

from __future__ import annotations

from automl.report import plots
from automl.report.drawing import architecture_svg
from automl.report.drawing import layer_labels


def test_pareto_front_keeps_only_points_nothing_smaller_beats() -> None:
    points = [(10, 0.5), (5, 0.4), (20, 0.45), (30, 0.9), (5, 0.3), (40, 0.9)]
    assert plots.pareto_front(points) == [(5, 0.4), (10, 0.5), (30, 0.9)]


def test_dqn_controller_panels_and_architecture_drawing() -> None:
    updates = [{"epsilon": 1 - i / 10, "td_loss": 1 / (i + 1)} for i in range(10)]
    svg = plots.controller({"dqn-run": updates}, ["epsilon", "td_loss"])
    assert svg.startswith("<svg") and "epsilon" in svg and "td loss" in svg
    labels = layer_labels("GRU(32,tanh) > Attention(8,mean) | sample_rate=8000")
    assert labels == ["GRU(32,tanh)", "Attention(8,mean)"]
    drawing = architecture_svg([{"type": "gru", "units": 32}, {"type": "attention"}], labels)
    assert drawing.count("<rect") == 4 and "Attention(8,mean)" in drawing  # input, 2, head
