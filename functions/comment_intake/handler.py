"""Comment intake. From the table's stream: verified Meta webhook entries become the comments of the
users who connected the Page or Instagram account, posts just published are watched for comments, and
new comments are analysed; every 15 minutes, the watched posts' comments are read from the platforms."""

from typing import Any

from tidings.core.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from tidings.core.triggers import parse_trigger
    from tidings.wiring.engagement import comment_intake

    return comment_intake().handle(parse_trigger(event))
