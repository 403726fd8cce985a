"""A/B tests of post variants: 2 to 4 variants scheduled as posts in comparable slots, their metrics
followed from the post analytics, and a winner declared by a sound statistical rule.

- `stats`: the posteriors (beta-binomial for rates, Poisson-gamma for reach), the probability to be
  the best by numerical integration, credible intervals;
- `slots`: which variant goes in which slot (comparable, alternating, random);
- `rule`: the reading at a common age, the metric, and the decision;
- `service`: `ABTestService`, the use-cases (create, list, read, stop, the monitor's pass).
"""
