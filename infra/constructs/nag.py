"""cdk-nag acknowledgments: each names the finding, says why, and sits on the narrowest resource."""

from __future__ import annotations

from collections.abc import Sequence

from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import IConstruct


def acknowledge(
    construct: IConstruct,
    rule: str,
    reason: str,
    *,
    applies_to: Sequence[str] = (),
    with_children: bool = False,
) -> None:
    """Acknowledge one AwsSolutions finding on one construct (and its children if asked).

    `applies_to` narrows an IAM4/IAM5 acknowledgment to the exact actions or resources named, so a
    new wildcard added later is still reported.
    """
    suppression = (
        NagPackSuppression(id=rule, reason=reason, applies_to=list(applies_to))
        if applies_to
        else NagPackSuppression(id=rule, reason=reason)
    )
    NagSuppressions.add_resource_suppressions(construct, [suppression], apply_to_children=with_children)


def nag_arn(service: str, resource: str) -> str:
    """An ARN in the stack's account and Region as cdk-nag prints it in an IAM5 finding."""
    return f"Resource::arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"
