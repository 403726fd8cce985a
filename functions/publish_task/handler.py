"""The publish state machine's task: claim and publish a due post, or record a crash."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.publishing.task_events import parse_publish_task
    from tidings.wiring import publish_step

    task = parse_publish_task(event)
    logger.append_keys(post_id=task.post_id, action=task.action)
    return publish_step().handle(task)
