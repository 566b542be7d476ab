"""Reports: leaderboards, trial tables and the self-contained HTML report (files only: no
plugin code, no TensorFlow)."""

from automl.report.html import render_report
from automl.report.html import write_report
from automl.report.leaderboard import leaderboard_rows
from automl.report.leaderboard import to_csv
from automl.report.leaderboard import to_json
from automl.report.leaderboard import to_markdown
from automl.report.trials import load_trials
from automl.report.trials import trials_dataframe

__all__ = ["leaderboard_rows", "load_trials", "render_report", "to_csv", "to_json",
           "to_markdown", "trials_dataframe", "write_report"]
