"""The Lambda layer: the `tidings` package and its runtime dependencies, bundled locally."""

from __future__ import annotations

from aws_cdk import AssetHashType, BundlingOptions
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.constructs.constants import ARCHITECTURE, PYTHON_RUNTIME, PYTHON_VERSION
from infra.layer_bundling import SHARED_PACKAGE, LayerTarget, LocalLayerBundling


class SharedLayer(Construct):
    """A LayerVersion built by LocalLayerBundling (pip for manylinux aarch64, never Docker)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        bundler = LocalLayerBundling(LayerTarget.lambda_arm64(PYTHON_VERSION))
        code = lambda_.Code.from_asset(
            str(SHARED_PACKAGE.parent),
            # The hash covers pyproject.toml, the package sources and the target, so CDK skips
            # bundling when an asset with the same inputs is already staged.
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=bundler.asset_hash,
            bundling=BundlingOptions(
                # Required by the API, never pulled: local bundling always succeeds or raises.
                image=PYTHON_RUNTIME.bundling_image,
                local=bundler,
            ),
        )
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=code,
            compatible_runtimes=[PYTHON_RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="tidings domain package and its runtime dependencies",
        )
