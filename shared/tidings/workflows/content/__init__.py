"""How generate_content writes: the catalogue of templates and tones (catalogue), the request and its
checks (request), quality-gate feedback read back (feedback), the parts of a text (compose), feedback
applied to them (revisions), fitting to a limit (fitting), the finished output (assemble) and the
Amazon Bedrock path (bedrock). The action itself is ``tidings.workflows.actions.generate_content``."""
