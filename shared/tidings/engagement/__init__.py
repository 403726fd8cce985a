"""Engagement: comments taken in from the platforms, understood, answered in the brand's voice; A/B
tests of post variants with a sound winner; crisis detection that can hold the queue.

Sits beside the campaigns, above the workflows (the content package drafts replies) and the
analytics (post metrics feed A/B tests and crisis signals); the composition root wires it.
"""
