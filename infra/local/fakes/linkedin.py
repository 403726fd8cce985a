"""LinkedIn on the fake platform server, under /linkedin/:

    POST /rest/posts                            a post (author, commentary, visibility, distribution,
                                                lifecycleState PUBLISHED, content.media|multiImage);
                                                201 with the URN in x-restli-id
    GET  /rest/posts?q=author&author=           read-back, newest first, start and count
    POST /rest/images|videos?action=initializeUpload, /rest/videos?action=finalizeUpload,
    PUT  /dms-uploads/{token}, GET /rest/videos/{urn}   media uploads
    GET  /rest/organizations/{id}               the organization (connection check)
    GET  /rest/socialActions/{post URN}         likesSummary and commentsSummary of the token's post
    GET  /rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity=
         &shares=List(...)|ugcPosts=List(...)   lifetime totalShareStatistics of the organization's
                                                posts (without a list: all of them, aggregated)
    GET  /v2/userinfo                           the member, OpenID Connect (unversioned)

Every /rest call needs `LinkedIn-Version: YYYYMM` (a month between `linkedin_min_version`, by default
twelve months back, and now: others answer 426 NONEXISTENT_VERSION) and `X-Restli-Protocol-Version:
2.0.0`. Sources are named in `tidings.publishing.clients.linkedin` ("Posts API", "Images API",
"Videos API", "LinkedIn Marketing API Versioning", "Network Update Social Actions", "Organization Share
Statistics"). Social actions and share statistics are metric reads: the counts come from
`infra.local.fakes.metrics` and the faults apply to them; a deleted or unknown post answers 404. The
fake serves lifetime statistics only: a call with `timeIntervals` is refused with a 400 that says so.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from infra.local.fakes import metrics
from infra.local.fakes.base import Outcome, Reply, Request
from infra.local.fakes.profiles import PROFILES, bearer_account, li_error, metric_read, publish
from infra.local.fakes.state import Post
from tidings.core.platforms import Platform

if TYPE_CHECKING:
    from infra.local.fakes.platforms import FakePlatformServer

_VERSION = re.compile(r"^(\d{4})(\d{2})(?:\.\d{2})?$")
_LITTLE_HASHTAG = re.compile(r"\{hashtag\|\\?(#|\uff03)\|([^}]*)\}")
_LITTLE_ESCAPE = re.compile(r"\\(.)")


def months_back(months: int) -> str:
    """YYYYMM of the month `months` before this one."""
    now = datetime.now(UTC)
    index = now.year * 12 + now.month - 1 - months
    return f"{index // 12:04d}{index % 12 + 1:02d}"


def version_active(version: str, oldest: str | None = None) -> bool:
    """Whether LinkedIn serves a `LinkedIn-Version` (YYYYMM or YYYYMM.RR): from `oldest` (default
    twelve months back, as each monthly version is served about a year) to this month."""
    match = _VERSION.match(version.strip())
    if not match:
        return False
    month = match.group(1) + match.group(2)
    return (oldest or months_back(12)) <= month <= months_back(0)


def little_to_plain(text: str) -> str:
    """LinkedIn little text as a reader sees it: hashtag templates as #tag, escapes removed."""
    return _LITTLE_ESCAPE.sub(r"\1", _LITTLE_HASHTAG.sub(lambda m: "#" + m.group(2), text))


def route(fake: FakePlatformServer, req: Request) -> Outcome:
    platform = Platform.LINKEDIN
    parts = req.segments[1:]
    if parts[:1] == ["dms-uploads"] and len(parts) == 2 and req.method == "PUT":
        fake.store.count("linkedin.upload")
        return _upload(fake, req, parts[1])
    if parts == ["v2", "userinfo"] and req.method == "GET":
        fake.store.count("linkedin.userinfo")
        return _userinfo(fake, req)
    if parts[:1] != ["rest"] or len(parts) < 2:
        return li_error(404, "NOT_FOUND", f"No route {req.method} {req.path}")
    refused = _headers(fake, req)
    if refused:
        return refused
    account = bearer_account(fake, platform, req)
    if isinstance(account, Reply):
        return account
    found = _REST.get((req.method, parts[1], len(parts)))
    if found is None:
        return li_error(404, "NOT_FOUND", f"No route {req.method} {req.path}")
    counter, handler = found
    fake.store.count(counter)
    return handler(fake, req, account, parts)


RestRoute = Callable[["FakePlatformServer", Request, str, list[str]], Outcome]
# (method, resource, path length under /linkedin) -> (call counter, handler)
_REST: dict[tuple[str, str, int], tuple[str, RestRoute]] = {
    ("GET", "posts", 2): ("linkedin.posts.read", lambda f, r, a, p: _find(f, r, a)),
    ("POST", "posts", 2): ("linkedin.posts", lambda f, r, a, p: _post(f, a, r.json_object())),
    ("POST", "images", 2): ("linkedin.images", lambda f, r, a, p: _media_action(f, r, a, "images")),
    ("POST", "videos", 2): ("linkedin.videos", lambda f, r, a, p: _media_action(f, r, a, "videos")),
    ("GET", "videos", 3): ("linkedin.videos.read", lambda f, r, a, p: _video(f, a, p[2])),
    ("GET", "socialActions", 3): (
        "linkedin.socialActions.read",
        lambda f, r, a, p: _social_actions(f, a, p[2]),
    ),
    ("GET", "organizationalEntityShareStatistics", 2): (
        "linkedin.shareStatistics.read",
        lambda f, r, a, p: _share_statistics(f, r, a),
    ),
    ("GET", "organizations", 3): ("linkedin.organizations.read", lambda f, r, a, p: _organization(a, p[2])),
}


def _organization(account: str, number: str) -> Reply:
    """An organization, for a token that administers it (its account is the organization's URN)."""
    if not number.isdigit():
        return li_error(400, "ILLEGAL_ARGUMENT", f"Invalid organization id {number!r}")
    if account != f"urn:li:organization:{number}":
        return li_error(403, "ACCESS_DENIED", "Not enough permissions to access: organizations.GET")
    return Reply(
        200,
        {
            "id": int(number),
            "localizedName": f"Organization {number}",
            "vanityName": f"organization-{number}",
            "primaryOrganizationType": "NONE",
        },
    )


def _userinfo(fake: FakePlatformServer, req: Request) -> Reply:
    """The OpenID Connect userinfo of the member the token acts for (unversioned: no LinkedIn-Version)."""
    account = bearer_account(fake, Platform.LINKEDIN, req)
    if isinstance(account, Reply):
        return account
    if not account.startswith("urn:li:person:"):
        return li_error(403, "ACCESS_DENIED", "Not enough permissions to access: userinfo.GET.NO_VERSION")
    member = account.removeprefix("urn:li:person:")
    return Reply(
        200,
        {
            "sub": member,
            "name": f"Member {member}",
            "given_name": "Member",
            "family_name": member,
            "locale": {"country": "US", "language": "en"},
        },
    )


def _post(fake: FakePlatformServer, account: str, body: dict[str, Any]) -> Outcome:
    store = fake.store
    problem = _invalid(body)
    if problem:
        return li_error(422, "UNPROCESSABLE_ENTITY", problem)
    if body["author"] != account:
        return li_error(
            403, "ACCESS_DENIED", "Not enough permissions to access: partnerApiPostsExternal.CREATE"
        )
    media_ids = _content_ids(body.get("content"))
    with store.lock:
        ready = all(
            store.objects.get(m, {}).get("owner") == account and store.objects[m].get("status") == "AVAILABLE"
            for m in media_ids
        )
    if not ready:
        return li_error(
            422, "UNPROCESSABLE_ENTITY", "/content: media is missing, not yours, or not yet AVAILABLE"
        )
    commentary = str(body.get("commentary", ""))

    def apply() -> Reply:
        urn = f"urn:li:share:{7_300_000_000_000_000_000 + store.next_id()}"
        with store.lock:
            urls = [store.objects[m]["url"] for m in media_ids if store.objects[m].get("url")]
        post = Post(Platform.LINKEDIN, account, urn, commentary, time.time(), urls)
        post.extra.update(visibility=body["visibility"], distribution=body["distribution"])
        store.apply(post, received_text=little_to_plain(commentary), mediaIds=media_ids)
        return Reply(201, None, {"x-restli-id": urn, "x-linkedin-id": urn})

    return publish(fake, Platform.LINKEDIN, account, commentary, apply)


def _content_ids(content: Any) -> list[str]:
    if not isinstance(content, dict):
        return []
    media = content.get("media")
    if isinstance(media, dict):
        return [str(media.get("id", ""))]
    multi = content.get("multiImage")
    images = multi.get("images") if isinstance(multi, dict) else None
    return [str(i.get("id", "")) for i in images if isinstance(i, dict)] if isinstance(images, list) else [""]


PART_BYTES = 4 * 1024 * 1024


def _media_action(fake: FakePlatformServer, req: Request, account: str, resource: str) -> Reply:
    store, action, body = fake.store, req.query.get("action"), req.json_object()
    if action == "initializeUpload":
        init = body.get("initializeUploadRequest")
        if not isinstance(init, dict) or init.get("owner") != account:
            return li_error(
                403, "ACCESS_DENIED", "The owner must be the authenticated member or organization"
            )
        number = store.next_id()
        expires = int((time.time() + 86400) * 1000)
        if resource == "images":
            image, token = f"urn:li:image:D4E10AQ{number:010d}", f"img-{uuid.uuid4().hex}"
            with store.lock:
                store.objects[image] = {"kind": "li_image", "owner": account, "status": "WAITING_UPLOAD"}
                store.objects[token] = {
                    "kind": "li_upload",
                    "owner": account,
                    "target": image,
                    "expected": None,
                }
            url = f"{req.base_url}/linkedin/dms-uploads/{token}"
            return Reply(200, {"value": {"uploadUrlExpiresAt": expires, "uploadUrl": url, "image": image}})
        size = init.get("fileSizeBytes")
        if not isinstance(size, int) or size <= 0:
            return li_error(400, "ILLEGAL_ARGUMENT", "/initializeUploadRequest/fileSizeBytes is required")
        video = f"urn:li:video:D5E10AQ{number:010d}"
        instructions, tokens = [], []
        for first in range(0, size, PART_BYTES):
            last = min(size, first + PART_BYTES) - 1
            token = f"vid-{uuid.uuid4().hex}"
            tokens.append(token)
            instructions.append(
                {
                    "uploadUrl": f"{req.base_url}/linkedin/dms-uploads/{token}",
                    "firstByte": first,
                    "lastByte": last,
                }
            )
            with store.lock:
                store.objects[token] = {
                    "kind": "li_upload",
                    "owner": account,
                    "target": video,
                    "expected": last - first + 1,
                }
        with store.lock:
            store.objects[video] = {
                "kind": "li_video",
                "owner": account,
                "status": "WAITING_UPLOAD",
                "tokens": tokens,
                "etags": {},
            }
        value = {
            "uploadUrlsExpireAt": expires,
            "video": video,
            "uploadInstructions": instructions,
            "uploadToken": "",
        }
        return Reply(200, {"value": value})
    if action == "finalizeUpload" and resource == "videos":
        final = (
            body.get("finalizeUploadRequest") if isinstance(body.get("finalizeUploadRequest"), dict) else {}
        )
        assert isinstance(final, dict)
        with store.lock:
            entry = store.objects.get(str(final.get("video")))
            if not entry or entry.get("kind") != "li_video" or entry["owner"] != account:
                return li_error(404, "NOT_FOUND", "No such video")
            expected = [entry["etags"].get(t) for t in entry["tokens"]]
            if final.get("uploadedPartIds") != expected or None in expected:
                return li_error(
                    400,
                    "ILLEGAL_ARGUMENT",
                    "/finalizeUploadRequest/uploadedPartIds do not match the uploaded parts",
                )
            entry["status"] = "PROCESSING"
            parts = entry.pop("parts", {})
            whole = b"".join(parts.get(t, b"") for t in entry["tokens"])
            entry["url"] = store.served_media.get(hashlib.sha256(whole).digest())
            entry["ready_at"] = time.time() + fake.linkedin_video_seconds
        return Reply(200, None)
    return li_error(400, "ILLEGAL_ARGUMENT", f"Unsupported action {action!r} on /rest/{resource}")


def _upload(fake: FakePlatformServer, req: Request, token: str) -> Reply:
    store = fake.store
    with store.lock:
        upload = dict(store.objects.get(token) or {})
    if upload.get("kind") != "li_upload":
        return li_error(404, "NOT_FOUND", "Unknown upload URL")
    if req.bearer is not None and store.account_for(Platform.LINKEDIN, req.bearer) != upload["owner"]:
        return PROFILES[Platform.LINKEDIN].auth_error()
    if upload["expected"] is not None and len(req.body) != upload["expected"]:
        return li_error(400, "ILLEGAL_ARGUMENT", f"Expected {upload['expected']} bytes, got {len(req.body)}")
    etag = hashlib.md5(req.body).hexdigest()  # noqa: S324 - an ETag, not security
    with store.lock:
        target = store.objects[upload["target"]]
        if target["kind"] == "li_image":
            target["status"] = "AVAILABLE"
            target["url"] = store.served_media.get(hashlib.sha256(req.body).digest())
        else:
            target["etags"][token] = etag
            target.setdefault("parts", {})[token] = req.body
    return Reply(201, None, {"ETag": etag})


def _video(fake: FakePlatformServer, account: str, urn: str) -> Reply:
    with fake.store.lock:
        video = fake.store.objects.get(urn)
        if not video or video.get("kind") != "li_video" or video["owner"] != account:
            return li_error(404, "NOT_FOUND", f"No video {urn}")
        if video["status"] == "PROCESSING" and time.time() >= video["ready_at"]:
            video["status"] = "AVAILABLE"
        status = video["status"]
    return Reply(200, {"id": urn, "owner": account, "status": status})


def _headers(fake: FakePlatformServer, req: Request) -> Reply | None:
    version = req.headers.get("LinkedIn-Version")
    if not version:
        return li_error(
            400,
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
        )
    if not version_active(version, fake.linkedin_min_version):
        return li_error(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
    if req.headers.get("X-Restli-Protocol-Version") != "2.0.0":
        return li_error(
            400, "ILLEGAL_ARGUMENT", "X-Restli-Protocol-Version 2.0.0 is required for this resource"
        )
    return None


def _find(fake: FakePlatformServer, req: Request, account: str) -> Reply:
    if req.query.get("q") != "author" or req.query.get("author") != account:
        return li_error(
            403, "ACCESS_DENIED", "Not enough permissions to access: partnerApiPostsExternal.FINDER-author"
        )
    try:
        count = max(1, min(int(req.query.get("count", "10")), 100))
        start = max(0, int(req.query.get("start", "0")))
    except ValueError:
        return li_error(400, "ILLEGAL_ARGUMENT", "Invalid count or start")
    posts = fake.store.listed(Platform.LINKEDIN, account)
    elements = [
        {
            "id": p.post_id,
            "author": p.account,
            "commentary": p.text,
            "visibility": p.extra.get("visibility", "PUBLIC"),
            "lifecycleState": "PUBLISHED",
            "createdAt": int(p.created * 1000),
            "publishedAt": int(p.created * 1000),
            "lastModifiedAt": int(p.created * 1000),
            "distribution": p.extra.get("distribution"),
            "isReshareDisabledByAuthor": False,
        }
        for p in posts[start : start + count]
    ]
    paging = {"start": start, "count": count, "total": len(posts), "links": []}
    return Reply(200, {"elements": elements, "paging": paging})


def _social_actions(fake: FakePlatformServer, account: str, urn: str) -> Outcome:
    post = fake.store.find(Platform.LINKEDIN, urn)
    if post is None:
        return li_error(404, "NOT_FOUND", f"Not Found: socialActions {urn}")
    if post.account != account:
        return li_error(403, "ACCESS_DENIED", "Not enough permissions to access: socialActions.GET")
    with fake.store.lock:
        counts = metrics.counts(post)
    likes, comments = counts["likes"], counts["comments"]
    actions = {
        "likesSummary": {
            "selectedLikes": [],
            "aggregatedTotalLikes": likes,
            "likedByCurrentUser": False,
            "totalLikes": likes,
        },
        "commentsSummary": {
            "selectedComments": [],
            "totalFirstLevelComments": comments - comments // 5,
            "aggregatedTotalComments": comments,
        },
        "target": urn,
    }
    return metric_read(fake, Platform.LINKEDIN, account, [urn], lambda: Reply(200, actions))


def _share_statistics(fake: FakePlatformServer, req: Request, account: str) -> Outcome:
    query = req.query
    if query.get("q") != "organizationalEntity":
        return li_error(400, "ILLEGAL_ARGUMENT", "q=organizationalEntity is required")
    organization = query.get("organizationalEntity", "")
    if organization != account or not organization.startswith("urn:li:organization:"):
        return li_error(
            403,
            "ACCESS_DENIED",
            "Not enough permissions to access: organizationalEntityShareStatistics.FINDER",
        )
    if "timeIntervals" in query:
        return li_error(400, "ILLEGAL_ARGUMENT", "the fake platform server serves lifetime statistics only")
    kind = "share" if "shares" in query else "ugcPost"
    listed = query.get("shares") or query.get("ugcPosts")
    posts = fake.store.listed(Platform.LINKEDIN, organization)
    with fake.store.lock:
        counts = {p.post_id: metrics.counts(p) for p in posts}
    if listed is None:
        total = {name: sum(c[name] for c in counts.values()) for name in metrics.METRICS}
        elements = [{"organizationalEntity": organization, "totalShareStatistics": _statistics(total)}]
        wanted: list[str] = []
    else:
        wanted = [u for u in listed.removeprefix("List(").removesuffix(")").split(",") if u]
        elements = [
            {
                "organizationalEntity": organization,
                kind: urn,
                "totalShareStatistics": _statistics(counts[urn]),
            }
            for urn in wanted
            if urn in counts
        ]
    body = {"paging": {"start": 0, "count": 10, "links": []}, "elements": elements}
    return metric_read(fake, Platform.LINKEDIN, account, wanted or [organization], lambda: Reply(200, body))


def _statistics(counts: dict[str, int]) -> dict[str, Any]:
    engaged = counts["clicks"] + counts["likes"] + counts["comments"] + counts["shares"]
    return {
        "uniqueImpressionsCount": counts["reach"],
        "shareCount": counts["shares"],
        "engagement": engaged / counts["views"] if counts["views"] else 0.0,
        "clickCount": counts["clicks"],
        "likeCount": counts["likes"],
        "impressionCount": counts["views"],
        "commentCount": counts["comments"],
    }


def _invalid(body: dict[str, Any]) -> str | None:
    if not isinstance(body.get("author"), str) or not body["author"].startswith(
        ("urn:li:person:", "urn:li:organization:")
    ):
        return "/author: a person or organization URN is required"
    if body.get("visibility") not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"):
        return "/visibility: must be one of PUBLIC, CONNECTIONS, LOGGED_IN, CONTAINER"
    distribution = body.get("distribution")
    if not isinstance(distribution, dict) or distribution.get("feedDistribution") not in (
        "MAIN_FEED",
        "NONE",
    ):
        return "/distribution/feedDistribution: is required"
    if body.get("lifecycleState") != "PUBLISHED":
        return "/lifecycleState: only PUBLISHED is supported here"
    commentary = body.get("commentary", "")
    if not isinstance(commentary, str) or len(little_to_plain(commentary)) > 3000:
        return "/commentary: at most 3000 characters"
    return None
