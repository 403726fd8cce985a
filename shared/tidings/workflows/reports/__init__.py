"""The figures behind the market-analysis-report actions (``tidings.workflows.actions.analytics_report``):
per-platform aggregates (aggregate), trends and the sentences that describe them (trends), and the
Markdown report (markdown), with the shared rounding, confidence and time-zone helpers (figures)."""
