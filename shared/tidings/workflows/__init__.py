"""Multi-step workflows with quality gates: definitions, templates, actions, gates and the engine."""
