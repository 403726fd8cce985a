"""HTTP routes for the user's analytics settings (UTM tagging of post links, automatic insights) and
the import of past posts' analytics from a CSV."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import Field, StrictBool, model_validator

from tidings.analytics.history_import import MAX_IMPORT_BYTES, MAX_IMPORT_ROWS
from tidings.api.common import json_response, responses
from tidings.api.models import ApiModel, Timestamp

if TYPE_CHECKING:
    from tidings.analytics.history_import import HistoryImport, ImportReport
    from tidings.analytics.settings import AnalyticsSettingsService
    from tidings.store.analytics_settings import AnalyticsSettings

IMPORT_ROUTE = "POST /analytics/import"
# API Gateway HTTP APIs refuse payloads over 10 MB ("Quotas for configuring and running an HTTP API in
# API Gateway": Payload size 10 MB, not adjustable); the import route takes up to that, the others 256 KB.
IMPORT_BODY_BYTES = MAX_IMPORT_BYTES


@dataclass(frozen=True)
class AnalyticsHistoryServices:
    settings: AnalyticsSettingsService
    history: HistoryImport


class SettingsView(ApiModel):
    utm_tagging: bool = Field(
        description="Post links go out with utm_source=<platform>, utm_medium=social, "
        "utm_campaign=tidings, utm_content=<postId> (never on links with UTM parameters of their own)"
    )
    auto_generate_insights: bool = Field(description="Insights are generated after each collection or sync")
    updated_at: Timestamp | None


class UpdateSettingsRequest(ApiModel):
    """Only the settings sent change; each is true or false."""

    utm_tagging: StrictBool | None = None
    auto_generate_insights: StrictBool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> UpdateSettingsRequest:
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"settings are true or false, not null: {', '.join(nulls)}")
        return self

    def changes(self) -> dict[str, bool]:
        return {name: bool(getattr(self, name)) for name in sorted(self.model_fields_set)}


class ImportRequest(ApiModel):
    csv: str = Field(
        description="The CSV: a header naming platform, publishedAt (ISO 8601 with an offset), contentType "
        "and any of views, reach, likes, comments, shares, saves, clicks; then one row per past post. "
        f"At most {MAX_IMPORT_BYTES} bytes (10 MB) and {MAX_IMPORT_ROWS} rows."
    )
    partial: StrictBool = Field(
        default=False,
        description="false: nothing is stored when any row is invalid; true: the valid rows are stored "
        "and the invalid ones reported",
    )


class ProblemView(ApiModel):
    column: str | None
    code: str = Field(
        description="wrong_field_count, unknown_platform, invalid_published_at, time_without_offset, "
        "published_in_future, invalid_content_type, invalid_metric, no_metrics, duplicate_row"
    )
    message: str


class RejectionView(ApiModel):
    row: int = Field(description="1 is the first row after the header")
    line: int = Field(description="The line of the file the row starts on")
    reason: str = Field(description="The first problem's code")
    problems: list[ProblemView]


class ImportView(ApiModel):
    received: int = Field(description="Rows in the file (blank lines are none)")
    imported: int = Field(description="Records written")
    rejected: int
    rejections: list[RejectionView] = Field(description="The first 1,000 rejected rows")
    rejections_truncated: bool
    complete: bool = Field(description="false when the time one request may take ran out before every row")
    pending: int = Field(description="Valid rows not written yet")
    resume_at_row: int | None = Field(
        description="The first row not written: send the rows from it again (a row sent twice is replaced)"
    )


def settings_view(s: AnalyticsSettings) -> SettingsView:
    return SettingsView(
        utm_tagging=s.utm_tagging, auto_generate_insights=s.auto_generate_insights, updated_at=s.updated_at
    )


def import_view(r: ImportReport) -> ImportView:
    rejections: list[dict[str, Any]] = [x.as_json() for x in r.rejections]
    return ImportView(
        received=r.received,
        imported=r.imported,
        rejected=r.rejected,
        rejections=[RejectionView.model_validate(x) for x in rejections],
        rejections_truncated=r.rejections_truncated,
        complete=r.complete,
        pending=r.pending,
        resume_at_row=r.resume_at_row,
    )


def register_analytics_history_routes(
    app: APIGatewayHttpResolver,
    services: Callable[[], AnalyticsHistoryServices],
    user_id: Callable[[], str],
) -> None:
    @app.get(
        "/analytics/settings",
        summary="Your analytics settings: UTM tagging of post links, automatic insights",
        responses=responses(200, "The settings", SettingsView),
    )
    def get_analytics_settings() -> Response[str]:
        return json_response(200, settings_view(services().settings.get(user_id())))

    @app.put(
        "/analytics/settings",
        summary="Change analytics settings; only the ones sent change",
        responses=responses(200, "The settings", SettingsView, 400),
    )
    def put_analytics_settings(body: Annotated[UpdateSettingsRequest, Body()]) -> Response[str]:
        updated = services().settings.update(user_id(), body.changes())
        return json_response(200, settings_view(updated))

    @app.post(
        "/analytics/import",
        summary="Import past posts' analytics from a CSV, for the best time to post and insights",
        description="The body is JSON: {csv, partial}. 413 beyond 10 MB or 50,000 rows; 422 with each "
        "invalid row's number and problems (nothing stored unless partial is true).",
        responses={
            **responses(200, "What was imported and what was rejected", ImportView, 400),
            413: {"description": "Over 10 MB or 50,000 rows (the limit is named)"},
        },
    )
    def import_analytics(body: Annotated[ImportRequest, Body()]) -> Response[str]:
        report = services().history.run(user_id(), body.csv, partial=body.partial)
        return json_response(200, import_view(report))
