"""The live pages' HTML fragments, rendered once per lot per committed batch and per language
and sent to every page watching the lot (see ``hall.hub``).

A fragment is a set of elements with ids, each swapped into the page out of band by the htmx
WebSocket extension, so one fragment serves every page that shows the lot: the hall's row,
the console's tile and the lot page (which also gets the bid record's new rows).
"""

from __future__ import annotations

from collections.abc import Sequence

from hall.engine import AnyEvent, BidPlaced
from hall.engine.view import LotView
from hall.hub import Kind, Renderer, RowsRenderer
from hall.runtime import Clock, Runtime
from hall.web.i18n import translator
from hall.web.templating import templates


def renderer(clock: Clock) -> Renderer:
    template = templates.get_template("_live.html")

    def render(view: LotView, events: Sequence[AnyEvent] | None, kind: Kind, lang: str) -> str:
        bids = list(view.recent) if events is None else [e for e in events if isinstance(e, BidPlaced)]
        return template.render(view=view, bids=bids[::-1], full=events is None, record=kind is Kind.LOT,
                               now=clock(), lang=lang, _=translator(lang))  # fmt: skip

    return render


def rows_renderer(runtime: Runtime) -> RowsRenderer:
    """The hall's rows for newly published lots (``Hub.announce``): appended to the page's
    ``#hall-new`` out of band, grouped by session as the page groups its own rows, with the
    highest id among them for the page's next reconnection (``#hall-after``)."""
    template = templates.get_template("auctions/_hall_new.html")

    def render(views: Sequence[LotView], lang: str) -> str:
        sessions: dict[str, list[LotView]] = {}
        for view in views:
            sessions.setdefault(runtime.sessions.get(view.id, ""), []).append(view)
        return template.render(sessions=sessions, titles=runtime.titles, after=max(view.id for view in views),
                               now=runtime.clock(), lang=lang, _=translator(lang))  # fmt: skip

    return render
