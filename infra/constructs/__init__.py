"""CDK constructs, one per capability; infra/stack.py composes them from infra/topology.py."""
