"""Insights from a user's post analytics: trends, opportunities, warnings and recommendations, each
with the evidence it rests on and a confidence computed from sample size and effect.

- `stats`: the significance test (Mann-Whitney U), the interval (Welch t on log rates) and the
  confidence formula;
- `findings`: what the rules read (observations) and produce (findings);
- `trend`, `opportunity`, `warning`, `recommendation`: the rules and their thresholds;
- `engine`: every rule at once, pure;
- `policy`: how a finding replaces the insight stored for it, and when a dismissal holds;
- `service`: `InsightService`, the use-cases (generate, find, get, dismiss).
"""
