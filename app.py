#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth` (add `-c stage=NAME` for a developer's or a branch's stack)."""

from aws_cdk import App

from infra.stack import build

app = App()
build(app)
app.synth()
