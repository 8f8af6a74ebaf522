"""The HTTP and WebSocket edge: routes, templates and static files."""
