"""The publish state machine's task: claim and publish a due post, or record a crash."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.wiring import publish_step

    logger.append_keys(post_id=event.get("postId"), attempt=event.get("attempt"))
    if event.get("action") == "record_crash":
        return publish_step().record_crash(event)
    return publish_step().run(event)
