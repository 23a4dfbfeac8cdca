"""Text for Slack messages.

Slack reads `<…>` in a message as a link or a mention (`<!channel>`, `<https://x|click here>`)
and `&` as the start of an entity, so text that came from outside (a customer's reference, an
error message quoting a payment's metadata) must have these three escaped, as Slack's
"Formatting text for app surfaces" says: & → &amp;, < → &lt;, > → &gt;.
"""

from __future__ import annotations


def escape(text: object) -> str:
    """`text` as Slack shows it literally: no mention, no link, no entity."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
