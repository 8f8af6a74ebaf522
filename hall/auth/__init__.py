"""Who is asking and what they may do: passwords, sessions, tokens, CSRF, throttling, roles.

Nothing here touches HTTP objects; ``hall/web`` applies it at the edge.
"""
