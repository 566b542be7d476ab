"""Helpers shipped with the library so every strategy runs through the same contract tests."""
