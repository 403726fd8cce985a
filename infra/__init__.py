"""What is wired to what: the topology, the CDK constructs, and the local runtime."""
