"""Every paged list, on both stores, opens only the page tokens (or cursors) it issued: another user's
token for the same list, a token of another list of the same user, and a crafted or altered one are all
refused, with the same error on the in-memory store as on the DynamoDB one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from repository_contract import Table, contract_table, crafted_tokens, user_id
from test_abtest_repository_contract import a_test
from test_activity_repository_contract import pending
from test_audit_repository_contract import entry as audit_entry
from test_campaign_repository_contract import campaign, recipients
from test_campaign_send_repository_contract import send
from test_comment_repository_contract import a_comment
from test_post_analytics_repository_contract import record as analytics_record
from test_post_repository_contract import post
from test_suppression_repository_contract import entry as suppression
from test_webhook_repository_contract import NOW, create
from test_workflow_task_repository_contract import workflow

from tidings.core.errors import ValidationFailed
from tidings.store.abtests import DynamoABTestRepository
from tidings.store.activities import DynamoPendingActivityRepository
from tidings.store.audit import DynamoAuditRepository
from tidings.store.campaign_sends import DynamoSendRepository
from tidings.store.campaigns import DynamoCampaignRepository
from tidings.store.comments import CommentFilter, DynamoCommentRepository
from tidings.store.memory.abtests import InMemoryABTestRepository
from tidings.store.memory.activities import InMemoryPendingActivityRepository
from tidings.store.memory.audit import InMemoryAuditRepository
from tidings.store.memory.campaign_sends import campaign_send_stores
from tidings.store.memory.campaigns import InMemoryCampaignRepository
from tidings.store.memory.comments import InMemoryCommentRepository
from tidings.store.memory.post_analytics import InMemoryPostAnalyticsRepository
from tidings.store.memory.posts import InMemoryPostRepository
from tidings.store.memory.suppressions import InMemorySuppressionRepository
from tidings.store.memory.webhooks import InMemoryDeliveryRepository
from tidings.store.memory.workflows import InMemoryWorkflowRepository
from tidings.store.post_analytics import DynamoPostAnalyticsRepository
from tidings.store.posts import DynamoPostRepository
from tidings.store.suppressions import DynamoSuppressionRepository
from tidings.store.webhooks import DynamoDeliveryRepository
from tidings.store.workflows import DynamoWorkflowRepository

table = contract_table


@dataclass(frozen=True)
class PagedList:
    """One list: its store on either side, three or more items written for a user (answering what
    else the list needs, such as a campaign id), the next token after a page of one, a starting key
    of the list written out plainly, and the error a token it did not issue gets."""

    name: str
    store: Callable[[Table | None], Any]
    fill: Callable[[Any, str], str]
    next_token: Callable[[Any, str, str, str | None], str | None]
    plain_key: Callable[[str, str], dict[str, str]]
    refusal: str = "ValueError"


def _store(memory: Callable[[], Any], dynamo: Callable[[str, Any], Any]) -> Callable[[Table | None], Any]:
    return lambda table: memory() if table is None else dynamo(table.name, table.client)


def _fill_posts(repo: Any, user: str) -> str:
    repo.create_many([post(user, 30 * (i + 1)) for i in range(3)], 0)
    return ""


def _fill_audit(repo: Any, user: str) -> str:
    for i in range(3):
        repo.record(user, audit_entry(i))
    return ""


def _fill_workflows(repo: Any, user: str) -> str:
    for i in range(3):
        repo.create(workflow(user, f"wf-{i}"))
    return ""


def _fill_deliveries(repo: Any, user: str) -> str:
    for i in range(3):
        create(repo, user, f"evt_{i}", NOW + timedelta(seconds=i))
    return "wh_1"


def _fill_comments(repo: Any, user: str) -> str:
    repo.add_new([a_comment(user, n) for n in range(3)])
    return ""


def _fill_ab_tests(repo: Any, user: str) -> str:
    for n in range(3):
        repo.create(a_test(user, n), limit=5)
    return ""


def _fill_campaigns(repo: Any, user: str) -> str:
    made = [repo.create(campaign(user, NOW + timedelta(seconds=i)), limit=10) for i in range(3)]
    repo.put_recipients(user, made[0].campaign_id, recipients(3))
    return str(made[0].campaign_id)


def _fill_sends(repo: Any, user: str) -> str:
    for i in range(3):
        repo.create_if_absent(send(user, f"r{i}@harbour.example"))
    return "cmp-1"


def _fill_suppressions(repo: Any, user: str) -> str:
    for i in range(3):
        repo.add(suppression(user, f"r{i}@harbour.example"))
    return ""


def _fill_post_analytics(repo: Any, user: str) -> str:
    for i in range(3):
        repo.track(analytics_record(user, f"p{i}"))
    return ""


def _fill_activities(repo: Any, user: str) -> str:
    for n in range(3):
        repo.create(pending(user, n, at=NOW + timedelta(seconds=n)))
    return ""


PAGED_LISTS = [
    PagedList(
        "posts",
        _store(lambda: InMemoryPostRepository(due_shards=4), DynamoPostRepository),
        _fill_posts,
        lambda repo, user, _, token: repo.page(user, limit=1, next_token=token).next_token,
        lambda user, _: {"PK": f"USER#{user}", "SK": "SCHEDULED_POST#x"},
    ),
    PagedList(
        "audit",
        _store(InMemoryAuditRepository, DynamoAuditRepository),
        _fill_audit,
        lambda repo, user, _, token: repo.page(user, 1, token)[1],
        lambda user, _: {"PK": f"USER#{user}", "SK": "AUDIT#x"},
    ),
    PagedList(
        "workflows",
        _store(InMemoryWorkflowRepository, DynamoWorkflowRepository),
        _fill_workflows,
        lambda repo, user, _, token: repo.page(user, None, 1, token)[1],
        lambda user, _: {"PK": f"USER#{user}", "SK": "WORKFLOW#wf-1"},
    ),
    PagedList(
        "webhook deliveries",
        _store(InMemoryDeliveryRepository, DynamoDeliveryRepository),
        _fill_deliveries,
        lambda repo, user, hook, token: repo.page(user, hook, 1, token)[1],
        lambda user, hook: {"PK": f"USER#{user}", "SK": f"DELIVERY#{hook}#x"},
    ),
    PagedList(
        "comments",
        _store(InMemoryCommentRepository, DynamoCommentRepository),
        _fill_comments,
        lambda repo, user, _, token: repo.page(user, CommentFilter(), 1, token).next_token,
        lambda user, _: {
            "PK": f"USER#{user}",
            "SK": "COMMENT#x",
            "GSI1PK": f"COMMENTS#{user}",
            "GSI1SK": "z",
        },
        refusal="invalid_next_token",
    ),
    PagedList(
        "A/B tests",
        _store(InMemoryABTestRepository, DynamoABTestRepository),
        _fill_ab_tests,
        lambda repo, user, _, token: repo.page(user, 1, token)[1],
        lambda user, _: {"PK": f"USER#{user}", "SK": "ABTEST#x"},
    ),
    PagedList(
        "campaigns",
        _store(InMemoryCampaignRepository, DynamoCampaignRepository),
        _fill_campaigns,
        lambda repo, user, _, token: repo.list(user, limit=1, cursor=token)[1],
        lambda user, _: {"PK": f"USER#{user}", "SK": "CAMPAIGN#x"},
    ),
    PagedList(
        "draft campaigns",
        _store(InMemoryCampaignRepository, DynamoCampaignRepository),
        _fill_campaigns,
        lambda repo, user, _, token: repo.list(user, status="draft", limit=1, cursor=token)[1],
        lambda user, _: {"PK": f"USER#{user}", "SK": "CAMPAIGN#x", "GSI1PK": "x", "GSI1SK": "x"},
    ),
    PagedList(
        "campaign recipients",
        _store(InMemoryCampaignRepository, DynamoCampaignRepository),
        _fill_campaigns,
        lambda repo, user, cmp, token: repo.recipient_page(user, cmp, limit=1, cursor=token)[1],
        lambda user, cmp: {"PK": f"USER#{user}#CAMPAIGN#{cmp}", "SK": "RECIPIENT#x"},
    ),
    PagedList(
        "campaign sends",
        _store(lambda: campaign_send_stores()[1], DynamoSendRepository),
        _fill_sends,
        lambda repo, user, cmp, token: repo.list_sends(user, cmp, limit=1, cursor=token).next_cursor,
        lambda user, cmp: {"SK": "SEND#0001#r0@harbour.example", "sk": "SEND#0001#r0@harbour.example"},
    ),
    PagedList(
        "suppressions",
        _store(InMemorySuppressionRepository, DynamoSuppressionRepository),
        _fill_suppressions,
        lambda repo, user, _, token: repo.list(user, 1, token)[1],
        lambda user, _: {"PK": f"USER#{user}", "SK": "SUPPRESSION#r2@harbour.example"},
    ),
    PagedList(
        "post analytics",
        _store(InMemoryPostAnalyticsRepository, DynamoPostAnalyticsRepository),
        _fill_post_analytics,
        lambda repo, user, _, token: repo.page_for_user(user, None, lambda _: True, 1, token)[1],
        lambda user, _: {"PK": f"USER#{user}", "SK": "POST_ANALYTICS#twitter#p1"},
    ),
    PagedList(
        "CRM activities",
        _store(InMemoryPendingActivityRepository, DynamoPendingActivityRepository),
        _fill_activities,
        lambda repo, user, _, token: repo.page(user, limit=1, cursor=token)[1],
        lambda user, _: {
            "PK": f"USER#{user}",
            "SK": "ACTIVITY#x",
            "GSI1PK": f"ACTIVITIES#{user}",
            "GSI1SK": "z",
        },
    ),
]


def _answer(call: Callable[[], object]) -> str:
    """ "ok", or how the call refused: a ValidationFailed's code, another error's name."""
    try:
        call()
    except ValidationFailed as refused:
        return refused.code
    except Exception as exc:
        return type(exc).__name__
    return "ok"


def test_every_paged_list_opens_only_its_own_users_tokens_of_that_list(table: Table | None) -> None:
    user, other = user_id(), user_id()
    stores = {paged.name: paged.store(table) for paged in PAGED_LISTS}
    context: dict[tuple[str, str], str] = {}
    for paged in PAGED_LISTS:
        for who in (user, other):
            context[who, paged.name] = paged.fill(stores[paged.name], who)
    tokens = {}
    for paged in PAGED_LISTS:
        token = paged.next_token(stores[paged.name], user, context[user, paged.name], None)
        assert token is not None, paged.name
        tokens[paged.name] = token

    wrong: list[str] = []
    for paged in PAGED_LISTS:
        repo = stores[paged.name]

        def answer(who: str, token: str, paged: PagedList = paged, repo: Any = repo) -> str:
            return _answer(lambda: paged.next_token(repo, who, context[who, paged.name], token))

        if answer(user, tokens[paged.name]) != "ok":
            wrong.append(f"{paged.name}: its own token refused")
        tried = {"another user's token": (other, tokens[paged.name])}
        tried |= {
            f"the token of {name}": (user, token) for name, token in tokens.items() if name != paged.name
        }
        plain = paged.plain_key(user, context[user, paged.name])
        tried |= {
            f"crafted token {i}": (user, token)
            for i, token in enumerate(crafted_tokens(tokens[paged.name], plain))
        }
        for case, (who, token) in tried.items():
            got = answer(who, token)
            if got != paged.refusal:
                wrong.append(f"{paged.name}, {case}: {got} instead of {paged.refusal}")
    assert wrong == []
