"""Reports: what a run, a sweep, a version matrix or K workers found, as Markdown, JSON and plots.

A layer of its own: it reads results (harness/run/results.py) and the checks' own presentation
(`proves`, `summarize`), and nothing reads it back.
"""
