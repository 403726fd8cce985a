"""How long a campaign runs, and what could make it better: each recommendation is {code, message,
emailNumbers?}, computed from the campaign as it stands (and, for its send time, the user's own
analytics).

Codes:
- `too_few_emails`, `too_many_emails`: the sequence is shorter or longer than its template usually
  runs (`tidings.campaigns.templates.PLANS`: nurture and onboarding 4-6, listing promotion 4-6,
  market update 3-5, seasonal 3-5, custom 3-7).
- `too_short`, `too_long`: it spans fewer or more days than the template suits (nurture 10-45 days,
  onboarding 4-21, listing promotion 4-21, market update 9-120, seasonal 6-30, custom 3-60); not
  for campaigns whose delays are in seconds (those are tests).
- `same_day_emails`: an email follows the one before it on the same day.
- `similar_emails`: two emails share a subject (or nearly: 75 % of its words) or most of their body
  (60 % of their three-word phrases, not counting what every email shares, like the greeting and
  the footer; 80 % for a two-email campaign).
- `subject_too_long`: a subject over 60 characters (most inboxes cut it there).
- `email_too_long`: a text body over 350 words (the footer aside).
- `missing_call_to_action`: no email asks for the next step, or the call-to-action email has no link,
  phone number or request to reply, call, book or schedule.
- `send_time_contradicted`: the campaign is scheduled at an hour the user's own posts do poorly at:
  with at least 20 measured posts on a platform (the one with most), the slot model of the optimal
  time (`tidings.scheduling.slot_model`) ranks the hours of the day in the campaign's time zone; an
  hour in the worse half and two hours or more from the best one is named with the best. Nothing is
  said without such data, or before the campaign is scheduled.
- `images_missing`: `includeImages` without `details.imageUrl`.
- `no_recipients`: neither a list nor a segment yet.
- `no_sender_name`: the emails are signed without a name (no brand voice name, no `agentName`).
- `missing_postal_address`: no `details.postalAddress` for the footer; US law (CAN-SPAM) asks
  commercial email for a valid postal address.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TypeVar
from zoneinfo import ZoneInfo

from tidings.campaigns.templates import PLANS
from tidings.core.platforms import Platform
from tidings.models.analytics import EngagementSample
from tidings.models.campaigns import Campaign, CampaignEmail
from tidings.scheduling.slot_model import HOURS_PER_DAY, fit
from tidings.workflows.content.request import parse_brand

_T = TypeVar("_T")

SECONDS_PER_DAY = 86_400
MAX_SUBJECT = 60
MAX_WORDS = 350
SUBJECT_SIMILARITY = 0.75
BODY_SIMILARITY = 0.6
PAIR_BODY_SIMILARITY = 0.8
MIN_SAMPLES = 20
_WORD = re.compile(r"\w+")
_ACTION = re.compile(r"https?://|\+?\d[\d\s().-]{6,}\d|\b(reply|call|book|schedule|contact|visit)\b", re.I)
_TAG = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.DOTALL)


@dataclass(frozen=True)
class Recommendation:
    code: str
    message: str
    email_numbers: tuple[int, ...] = ()


def estimated_duration(campaign: Campaign) -> int | float:
    """Days from the start to the last email: whole days for a campaign in days, a fraction of a day
    (4 decimals) for one in seconds."""
    total = sum(e.delay for e in campaign.emails)
    if campaign.delay_unit == "seconds":
        days = round(total / SECONDS_PER_DAY, 4)
        return int(days) if days.is_integer() else days
    return total


def recommend(
    campaign: Campaign, samples: Mapping[Platform, Sequence[EngagementSample]] | None = None
) -> list[Recommendation]:
    found: list[Recommendation] = []
    found += _length(campaign)
    found += _timing(campaign)
    found += _similar(campaign.emails)
    found += _sizes(campaign.emails)
    found += _call_to_action(campaign.emails)
    found += _send_time(campaign, samples or {})
    found += _audience_and_sender(campaign)
    return found


def _length(campaign: Campaign) -> list[Recommendation]:
    plan = PLANS[campaign.template]
    count = len(campaign.emails)
    name = campaign.template.replace("-", " ")
    if count < plan.min_emails:
        return [
            Recommendation(
                "too_few_emails",
                f"{count} email{'s' if count != 1 else ''} is short for a {name} campaign, which usually "
                f"runs {plan.min_emails} to {plan.max_emails}: a longer sequence gives readers time to "
                "act.",
            )
        ]
    if count > plan.max_emails:
        return [
            Recommendation(
                "too_many_emails",
                f"{count} emails is long for a {name} campaign, which usually runs {plan.min_emails} to "
                f"{plan.max_emails}: past that, unsubscribes tend to rise. Consider fewer, stronger emails.",
            )
        ]
    return []


def _timing(campaign: Campaign) -> list[Recommendation]:
    if campaign.delay_unit != "days":
        return []
    plan = PLANS[campaign.template]
    days = estimated_duration(campaign)
    name = campaign.template.replace("-", " ")
    found = []
    if len(campaign.emails) > 1 and days < plan.min_days:
        found.append(
            Recommendation(
                "too_short",
                f"The campaign runs {days} days; a {name} campaign works best over {plan.min_days} to "
                f"{plan.max_days} days: space the emails further apart.",
            )
        )
    elif days > plan.max_days:
        found.append(
            Recommendation(
                "too_long",
                f"The campaign runs {days} days; a {name} campaign works best over {plan.min_days} to "
                f"{plan.max_days} days: readers may forget the first emails before the last.",
            )
        )
    same_day = tuple(e.n for e in campaign.emails if e.n > 1 and e.delay == 0)
    if same_day:
        found.append(
            Recommendation(
                "same_day_emails",
                f"{_numbers(same_day)} go{'es' if len(same_day) == 1 else ''} out the same day as the email "
                "before: two emails in a day feel like pressure. Give each at least a day.",
                same_day,
            )
        )
    return found


def _numbers(numbers: Sequence[int]) -> str:
    if len(numbers) == 1:
        return f"Email {numbers[0]}"
    return "Emails " + ", ".join(str(n) for n in numbers[:-1]) + f" and {numbers[-1]}"


def _words(text: str) -> list[str]:
    return _WORD.findall(_TAG.sub(" ", text).lower())


def _body(email: CampaignEmail) -> str:
    return email.text.split("\n--\n", 1)[0]


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i : i + 3]) for i in range(max(0, len(words) - 2))}


def _jaccard(a: set[_T], b: set[_T]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _similar(emails: Sequence[CampaignEmail]) -> list[Recommendation]:
    if len(emails) < 2:
        return []
    shingles = [_shingles(_body(e)) for e in emails]
    shared: set[tuple[str, ...]] = set.intersection(*shingles) if len(emails) >= 3 else set()
    threshold = BODY_SIMILARITY if len(emails) >= 3 else PAIR_BODY_SIMILARITY
    subjects = [set(_words(e.subject)) for e in emails]
    pairs = []
    for i, j in combinations(range(len(emails)), 2):
        same_subject = _jaccard(subjects[i], subjects[j]) >= SUBJECT_SIMILARITY
        same_body = _jaccard(shingles[i] - shared, shingles[j] - shared) >= threshold
        if same_subject or same_body:
            pairs.append((emails[i].n, emails[j].n))
    if not pairs:
        return []
    numbers = tuple(sorted({n for pair in pairs for n in pair}))
    named = "; ".join(f"{a} and {b}" for a, b in pairs)
    return [
        Recommendation(
            "similar_emails",
            f"These emails read much alike (emails {named}): give each its own subject and angle, or the "
            "sequence feels repetitive.",
            numbers,
        )
    ]


def _sizes(emails: Sequence[CampaignEmail]) -> list[Recommendation]:
    found = []
    long_subjects = tuple(e.n for e in emails if len(_TAG.sub("x" * 8, e.subject)) > MAX_SUBJECT)
    if long_subjects:
        found.append(
            Recommendation(
                "subject_too_long",
                f"{_numbers(long_subjects)} ha{'s a subject' if len(long_subjects) == 1 else 've subjects'} "
                f"over {MAX_SUBJECT} characters; most inboxes cut subjects there, so put what matters first.",
                long_subjects,
            )
        )
    wordy = tuple(e.n for e in emails if len(_words(_body(e))) > MAX_WORDS)
    if wordy:
        found.append(
            Recommendation(
                "email_too_long",
                f"{_numbers(wordy)} {'is' if len(wordy) == 1 else 'are'} over {MAX_WORDS} words; shorter "
                "emails are read to the end more often.",
                wordy,
            )
        )
    return found


def _call_to_action(emails: Sequence[CampaignEmail]) -> list[Recommendation]:
    asking = [e for e in emails if e.role == "call_to_action"]
    if not asking:
        return [
            Recommendation(
                "missing_call_to_action",
                "No email asks the reader for a next step: end the sequence with a call to action.",
            )
        ]
    weak = tuple(e.n for e in asking if not _ACTION.search(_TAG.sub(" ", _body(e))))
    if weak:
        return [
            Recommendation(
                "missing_call_to_action",
                f"{_numbers(weak)} should ask for the next step but gives no link, phone number or "
                "request to reply, call or book.",
                weak,
            )
        ]
    return []


def _send_time(
    campaign: Campaign, samples: Mapping[Platform, Sequence[EngagementSample]]
) -> list[Recommendation]:
    window = campaign.window
    if window is None or not samples:
        return []
    platform, measured = max(samples.items(), key=lambda item: len(item[1]))
    if len(measured) < MIN_SAMPLES:
        return []
    model = fit(measured, platform, ZoneInfo(window.timezone))
    by_hour = [sum(model.rank_value(day * HOURS_PER_DAY + h) for day in range(7)) / 7 for h in range(24)]
    ranked = sorted(range(24), key=lambda h: (-by_hour[h], h))
    best = ranked[0]
    distance = min(abs(best - window.hour), 24 - abs(best - window.hour))
    if ranked.index(window.hour) < 12 or distance < 2:
        return []
    sends = f"{window.hour:02d}:{window.minute:02d}"
    return [
        Recommendation(
            "send_time_contradicted",
            f"Your own {platform.value} posts ({len(measured)} measured) draw the most engagement around "
            f"{best:02d}:00 in {window.timezone}; this campaign sends at {sends}, among your weaker "
            f"hours. Consider sending around {best:02d}:00.",
        )
    ]


def _audience_and_sender(campaign: Campaign) -> list[Recommendation]:
    found = []
    if campaign.customization.include_images and not campaign.details.get("imageUrl"):
        found.append(
            Recommendation(
                "images_missing",
                "includeImages is on but details.imageUrl gives no image: the emails carry none.",
            )
        )
    if campaign.recipient_count == 0 and campaign.segment is None:
        found.append(
            Recommendation(
                "no_recipients",
                "The campaign has no recipients yet: add a list (recipients) or a CRM segment before "
                "scheduling it.",
            )
        )
    brand = parse_brand(campaign.customization.brand_voice)
    if not (brand.name or brand.signature or campaign.variables.get("agentName")):
        found.append(
            Recommendation(
                "no_sender_name",
                "The emails are signed without a name: give customization.brandVoice a name (or "
                "variables.agentName) so readers know who writes to them.",
            )
        )
    if not campaign.details.get("postalAddress"):
        found.append(
            Recommendation(
                "missing_postal_address",
                "Add details.postalAddress: it goes in every footer, and US law (CAN-SPAM) asks commercial "
                "email for a valid postal address.",
            )
        )
    return found
