"""The built-in workflow templates. A template declares its parameters (required, defaults, allowed
values) and builds a definition from them, so the same checks apply as to a custom definition.

- content-to-social: draft a post for one platform in the brand's voice, hold it to the quality rules
  (fixing it up to twice), have a person approve it (unless auto-approved), schedule it at the
  optimal time.
- listing-campaign: from a listing's details, a post per platform per day over several days (just
  listed, a feature, last chance), each held to the rules; the whole plan is approved once, then
  everything is scheduled.
- market-analysis-report: gather the user's post analytics, refuse to go on without enough data
  (threshold gate), compute trends, draft the report, deliver it by email or webhook.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tidings.core.errors import ValidationFailed
from tidings.core.platforms import Platform

PLATFORMS = [p.value for p in Platform]
TONES = ["professional", "friendly", "enthusiastic", "informative"]

# Phrases fair-housing advertising guidance tells agents to avoid (they describe who may live in a
# home rather than the home), and claims no listing should make.
FAIR_HOUSING_PHRASES = [
    "adults only",
    "no children",
    "no kids",
    "perfect for singles",
    "ideal for young professionals",
    "exclusive neighborhood",
    "christian neighborhood",
    "walking distance to church",
    "no section 8",
    "guaranteed appreciation",
    "guaranteed returns",
]

_QUALITY_RULES: dict[str, Any] = {
    "requiredFields": ["text"],
    "minLength": 20,
    "bannedPhrases": FAIR_HOUSING_PHRASES,
    "maxToxicity": 0.2,
}


@dataclass(frozen=True)
class Param:
    description: str
    required: bool = False
    default: Any = None
    choices: list[Any] | None = None
    kind: type | tuple[type, ...] = str


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    params: dict[str, Param]
    build: Callable[[dict[str, Any]], dict[str, Any]] = field(repr=False)

    def resolve_parameters(self, given: dict[str, Any]) -> dict[str, Any]:
        problems = [f"unknown parameter {k!r}" for k in given if k not in self.params]
        values: dict[str, Any] = {}
        for name, spec in self.params.items():
            if name not in given or given[name] is None:
                if spec.required:
                    problems.append(f"{name} is required: {spec.description}")
                elif spec.default is not None:
                    values[name] = spec.default
                continue
            value = given[name]
            if not isinstance(value, spec.kind) or (isinstance(value, bool) and spec.kind is not bool):
                problems.append(f"{name} has the wrong type")
                continue
            if spec.choices is not None:
                bad = [v for v in (value if isinstance(value, list) else [value]) if v not in spec.choices]
                if bad:
                    problems.append(f"{name}: {bad[0]!r} is not one of {spec.choices}")
                    continue
            values[name] = value
        if problems:
            raise ValidationFailed(
                f"the {self.name} parameters are not valid",
                {"template": self.name, "problems": problems},
                code="invalid_parameters",
            )
        return values


def _content_to_social(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f"Social post: {p['topic']}",
        "description": "Draft, check, approve and schedule one post at the optimal time",
        "steps": [
            {
                "id": "draft",
                "action": "generate_content",
                "parameters": {
                    "template": "social_post",
                    "topic": "${parameters.topic}",
                    "platform": "${parameters.platform}",
                    "tone": "${parameters.tone}",
                    "brandVoice": "${parameters.brandVoice}",
                    "hashtags": "${parameters.hashtags}",
                },
                "retry": {"attempts": 3, "initialIntervalSeconds": 10, "backoffRate": 2},
                "gates": [
                    {"type": "validation", "rules": _QUALITY_RULES, "maxFixAttempts": 2},
                    {"type": "approval"},
                ],
            },
            {
                "id": "schedule",
                "action": "schedule_post",
                "dependsOn": ["draft"],
                "parameters": {
                    "content": "${steps.draft.output.text}",
                    "platforms": ["${parameters.platform}"],
                },
            },
        ],
    }


_ANGLES = [
    ("listing_post", "Just listed"),
    ("listing_post", "Feature spotlight"),
    ("open_house", "Last chance"),
]


def _listing_campaign(p: dict[str, Any]) -> dict[str, Any]:
    details = {
        k: p[k]
        for k in ("address", "price", "bedrooms", "bathrooms", "highlights", "link")
        if p.get(k) is not None
    }
    steps: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for day in range(p["days"]):
        template, angle = _ANGLES[day % len(_ANGLES)]
        for platform in p["platforms"]:
            step_id = f"draft_{platform}_day{day + 1}"
            steps.append(
                {
                    "id": step_id,
                    "action": "generate_content",
                    "parameters": {
                        "template": template,
                        "topic": f"{angle}: {p['address']}",
                        "platform": platform,
                        "tone": "${parameters.tone}",
                        "brandVoice": "${parameters.brandVoice}",
                        "details": details,
                    },
                    "retry": {"attempts": 3, "initialIntervalSeconds": 10, "backoffRate": 2},
                    "gates": [{"type": "validation", "rules": _QUALITY_RULES, "maxFixAttempts": 2}],
                }
            )
            item: dict[str, Any] = {
                "content": f"${{steps.{step_id}.output.text}}",
                "platform": platform,
                "day": day,
            }
            if p.get("mediaUrls"):
                item["mediaUrls"] = p["mediaUrls"]
            items.append(item)
    drafts = [s["id"] for s in steps]
    steps.append(
        {
            "id": "plan",
            "action": "plan_campaign",
            "dependsOn": drafts,
            "parameters": {
                "items": items,
                "startDate": "${parameters.startDate}",
                "postTime": "${parameters.postTime}",
                "timezone": "${parameters.timezone}",
            },
            "gates": [{"type": "approval"}],
        }
    )
    steps.append(
        {
            "id": "schedule",
            "action": "schedule_posts",
            "dependsOn": ["plan"],
            "parameters": {"posts": "${steps.plan.output.posts}"},
        }
    )
    return {
        "name": f"Listing campaign: {p['address']}",
        "description": f"{len(drafts)} posts over {p['days']} days on {', '.join(p['platforms'])}",
        "steps": steps,
    }


def _market_analysis_report(p: dict[str, Any]) -> dict[str, Any]:
    deliver: dict[str, Any] = {"channel": "${parameters.deliveryChannel}"}
    if p["deliveryChannel"] == "email":
        deliver |= {"to": ["${parameters.deliverTo}"], "subject": "${steps.report.output.title}"}
        deliver["body"] = "${steps.report.output.markdown}"
    else:
        deliver |= {"url": "${parameters.deliverTo}", "payload": "${steps.report.output}"}
    return {
        "name": f"Market analysis: last {p['days']} days",
        "description": "Analytics to trends to a report, only with enough data",
        "steps": [
            {
                "id": "gather",
                "action": "gather_analytics",
                "parameters": {"platforms": "${parameters.platforms}", "days": "${parameters.days}"},
                "gates": [
                    {
                        "type": "threshold",
                        "metric": "dataPoints",
                        "operator": "gte",
                        "value": p["minDataPoints"],
                        "maxFixAttempts": 0,
                    }
                ],
            },
            {
                "id": "trends",
                "action": "compute_trends",
                "dependsOn": ["gather"],
                "parameters": {"analytics": "${steps.gather.output}"},
            },
            {
                "id": "report",
                "action": "draft_report",
                "dependsOn": ["trends"],
                "parameters": {"trends": "${steps.trends.output}", "title": "${parameters.title}"},
            },
            {
                "id": "deliver",
                "action": "send_notification",
                "dependsOn": ["report"],
                "parameters": deliver,
                "retry": {"attempts": 4, "initialIntervalSeconds": 30, "backoffRate": 3},
            },
        ],
    }


TEMPLATES: dict[str, Template] = {
    "content-to-social": Template(
        "content-to-social",
        "Generate a post, validate it, get it approved, schedule it at the optimal time",
        {
            "topic": Param("what the post is about", required=True),
            "platform": Param("where it goes", default="facebook", choices=PLATFORMS),
            "tone": Param("the voice", default="friendly", choices=TONES),
            "brandVoice": Param("name, tagline, phrases to use", default=""),
            "hashtags": Param("hashtags to include", default=[], kind=list),
        },
        _content_to_social,
    ),
    "listing-campaign": Template(
        "listing-campaign",
        "A listing's details to a set of posts for several platforms over several days, approved once, "
        "then all scheduled",
        {
            "address": Param("the listing's address", required=True),
            "price": Param("asking price, as shown", default=None),
            "bedrooms": Param("bedrooms", kind=int),
            "bathrooms": Param("bathrooms", kind=(int, float)),
            "highlights": Param("features to mention", default=[], kind=list),
            "link": Param("the listing page", default=None),
            "mediaUrls": Param("photos or a video tour", default=[], kind=list),
            "platforms": Param(
                "where to post", default=["facebook", "instagram"], choices=PLATFORMS, kind=list
            ),
            "days": Param("how many days the campaign runs", default=3, choices=list(range(1, 8)), kind=int),
            "startDate": Param("first day, YYYY-MM-DD (default: tomorrow)", default=""),
            "postTime": Param("local time of day to post, HH:MM", default="10:00"),
            "timezone": Param("IANA time zone", default="UTC"),
            "tone": Param("the voice", default="enthusiastic", choices=TONES),
            "brandVoice": Param("name, tagline, phrases to use", default=""),
        },
        _listing_campaign,
    ),
    "market-analysis-report": Template(
        "market-analysis-report",
        "Gather your post analytics, compute trends, draft a report, deliver it -- only with enough data",
        {
            "platforms": Param(
                "platforms to analyse", default=["facebook", "instagram"], choices=PLATFORMS, kind=list
            ),
            "days": Param("how far back", default=30, kind=int),
            "minDataPoints": Param("the least analysed posts a report may rest on", default=10, kind=int),
            "title": Param("report title", default="Your social media market report"),
            "deliveryChannel": Param("email or webhook", default="email", choices=["email", "webhook"]),
            "deliverTo": Param("an email address or an https URL", required=True),
        },
        _market_analysis_report,
    ),
}


def template(name: str) -> Template:
    if name not in TEMPLATES:
        raise ValidationFailed(
            f"unknown template {name!r}",
            {"template": name, "supported": sorted(TEMPLATES)},
            code="unknown_template",
        )
    return TEMPLATES[name]
