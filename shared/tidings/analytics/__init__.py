"""Analytics: what Tidings learns from what it publishes.

Collection of each published post's metrics at a falling cadence, site analytics from GA4 attributed
back to posts, history imported from a CSV, summaries, and insights with honest confidence.
"""
