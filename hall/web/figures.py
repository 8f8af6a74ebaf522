"""The exchange's figures (AU-11, CR-12) and the deals reached outside the hall, as staff pages,
exports and JSON: ``/staff/figures`` (charts and tables per industry, session, month and year,
and the year's deals), its CSV and xlsx exports, ``/staff/offline-deals`` (the form and the
list), ``POST /api/offline-deals`` and ``GET /api/stats``.

All of it is staff's. Figures in aggregate are what an exchange publishes, but a group can hold
one deal (a session with one sale, a month with one negotiated deal), and then its value is
that deal's price: an offline deal's price is the parties' business until the exchange decides
to publish it, in its own reports, from these exports.

Thin: parse, call ``hall.offline_deals`` or ``hall.figures``, render.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Final

import msgspec
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hall.auctions import Industry
from hall.charts import bars, line
from hall.exports import CSV_TYPE, XLSX_TYPE, Cell, Table, csv_bytes, xlsx_bytes
from hall.figures import By, Figure, Figures, SaleItem, offline_reference, qualifies, sale_item, tabulate
from hall.listing import TransactionForm
from hall.offline_deals import OfflineDealItem, OfflineDeals, form_of
from hall.store.figures import OfflineRow
from hall.uploads import UploadRefused
from hall.web.deals import _download
from hall.web.errors import Refused
from hall.web.i18n import lang_of, text, translate
from hall.web.openapi import Api
from hall.web.params import whole
from hall.web.reviews import _form, _me, attachment
from hall.web.security import answer, route
from hall.web.templating import iso, render
from hall.workdays import beijing_date

ALL: Final = "all"
YEAR_MIN: Final = 2000
YEAR_MAX: Final = 2999
CHART_GROUPS: Final = 24
"""The last groups a chart draws (the table beside it has them all): a phone's screen holds no more."""
LIST_LIMIT: Final = 500
"""Deals the page lists (the newest of the year); the exports have them all."""
ORDER: Final = (By.INDUSTRY, By.SESSION, By.MONTH, By.YEAR)


def _figures(request: Request) -> Figures:
    found: Figures = request.app.state.figures
    return found


def _offline(request: Request) -> OfflineDeals:
    found: OfflineDeals = request.app.state.offline_deals
    return found


def _year(request: Request, default: int | None) -> int | None:
    """``year``: a Beijing year, or ``all`` (None); missing, ``default``."""
    given = request.query_params.get("year")
    if given == ALL:
        return None
    if not given:
        return default
    try:
        return whole(given, "year", low=YEAR_MIN, high=YEAR_MAX)
    except Refused:  # the page's own words: the generic message names the parameter in English
        raise Refused(400, "bad_request", "figures_err_year", {"low": YEAR_MIN, "high": YEAR_MAX}) from None


def _this_year(request: Request) -> int:
    return beijing_date(_figures(request).runtime.clock()).year


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


# ---------------------------------------------------------------------- the tables, for the page and the exports


COLUMNS: Final = ("count", "value", "online_count", "online_value", "offline_count", "offline_value", "offered",
                  "sold", "sell_through", "premium", "online_premium", "offline_premium", "qualifying_count",
                  "qualifying_value")  # fmt: skip
"""The figures' columns after the group, in the exports (ratios as fractions of 1)."""


def figure_table(by: By, figures: Sequence[Figure], lang: str) -> Table:
    header = [translate(f"figures_by_{by.value}", lang), *(translate(f"figures_col_{c}", lang) for c in COLUMNS)]
    rows: list[list[Cell]] = [[f.label, *(getattr(f, c) for c in COLUMNS)] for f in figures]
    return header, rows


DEAL_COLUMNS: Final = ("kind", "reference", "date", "industry", "session", "title", "item_number", "buyer", "seller",
                       "price", "start_price", "premium", "qualifying")  # fmt: skip


def deal_table(items: Sequence[SaleItem], lang: str) -> Table:
    header = [translate(f"figures_deal_{c}", lang) for c in DEAL_COLUMNS]
    rows: list[list[Cell]] = []
    for item in items:
        values = msgspec.structs.asdict(item)
        values["kind"] = translate(f"figures_kind_{item.kind}", lang)
        values["qualifying"] = translate("yes" if item.qualifying else "no", lang)
        rows.append([values[c] for c in DEAL_COLUMNS])
    return header, rows


# ---------------------------------------------------------------------- pages


async def figures_page(request: Request) -> Response:
    """The figures of one year (the current Beijing year unless ``year`` says another, or
    ``all``), as charts with their tables, and the year's deals."""
    lang = lang_of(request)
    figures = _figures(request)
    year = _year(request, _this_year(request))
    sales, offers = await figures.gather(year)
    every_sale, all_offers = (sales, offers) if year is None else await figures.gather()
    sections = []
    for by in ORDER:
        # the years' table shows every year, whatever year the page is about
        rows = tabulate(by, every_sale if by is By.YEAR else sales, all_offers if by is By.YEAR else offers, lang)
        shown = rows[-CHART_GROUPS:]
        name = translate(f"figures_by_{by.value}", lang)
        series = [translate("figures_online", lang), translate("figures_offline", lang)]
        data_labels = by is By.SESSION
        charts = [
            bars(f"value-{by.value}", f"{translate('figures_chart_value', lang)} · {name}", series,
                 [(f.label, (f.online_value, f.offline_value)) for f in shown], lambda v: f"¥{v:,}",
                 data_labels=data_labels),
            bars(f"count-{by.value}", f"{translate('figures_chart_count', lang)} · {name}", series,
                 [(f.label, (f.online_count, f.offline_count)) for f in shown], str, data_labels=data_labels),
        ]  # fmt: skip
        if by in (By.MONTH, By.YEAR):
            charts.append(line(f"sell-through-{by.value}", f"{translate('figures_chart_sell_through', lang)} · {name}",
                               [(f.label, f.sell_through) for f in shown]))  # fmt: skip
        sections.append((by.value, rows, charts, len(rows) > len(shown)))
    years = sorted({s.day.year for s in every_sale} | {o.day.year for o in all_offers} | {_this_year(request)},
                   reverse=True)  # fmt: skip
    items = [sale_item(s, lang) for s in sales[:LIST_LIMIT]]
    return render(request, "figures/figures.html", year=year, years=years, sections=sections, deals=items,
                  more=len(sales) > LIST_LIMIT, total=len(sales), percent=percent, chart_groups=CHART_GROUPS,
                  query=f"?year={ALL if year is None else year}")  # fmt: skip


async def _export(request: Request) -> tuple[str, list[tuple[str, Table]]]:
    """``table``: ``figures`` (one sheet per grouping) or ``deals`` (the year's deals)."""
    lang = lang_of(request)
    table = request.query_params.get("table") or "figures"
    if table not in ("figures", "deals"):
        raise Refused(400, "bad_request", "err_review_filter", {"name": "table", "values": "figures, deals"})
    figures = _figures(request)
    year = _year(request, _this_year(request))
    sales, offers = await figures.gather(year)
    suffix = ALL if year is None else str(year)
    if table == "deals":
        return f"{translate('figures_file_deals', lang)}-{suffix}", [
            (translate("figures_deals", lang), deal_table([sale_item(s, lang) for s in sales], lang))]
    every = await figures.gather()
    sheets = []
    for by in ORDER:
        chosen = every if by is By.YEAR else (sales, offers)
        sheets.append((translate(f"figures_by_{by.value}", lang), figure_table(by, tabulate(by, *chosen, lang), lang)))
    return f"{translate('figures_file_figures', lang)}-{suffix}", sheets


async def figures_csv(request: Request) -> Response:
    """CSV holds one table: the figures' four tables one under another, each row naming its
    grouping in a first column."""
    name, sheets = await _export(request)
    if len(sheets) == 1:
        return _download(csv_bytes(sheets[0][1]), CSV_TYPE, f"{name}.csv")
    lang = lang_of(request)
    header = [translate("figures_grouping", lang), translate("figures_group", lang), *sheets[0][1][0][1:]]
    rows = [[title, *row] for title, (_, body) in sheets for row in body]
    return _download(csv_bytes((header, rows)), CSV_TYPE, f"{name}.csv")


async def figures_xlsx(request: Request) -> Response:
    name, sheets = await _export(request)
    return _download(xlsx_bytes(sheets), XLSX_TYPE, f"{name}.xlsx")


def offline_item(row: OfflineRow) -> OfflineDealItem:
    return OfflineDealItem(
        id=row.id, listing=row.listing, title=row.title, item_number=row.item_number, industry=Industry(row.industry),
        session=row.session, buyer=row.buyer_name, buyer_account=row.buyer, seller=row.seller_name, price=row.price,
        start_price=row.start_price, date=row.day, form=TransactionForm(row.form), qualifying=qualifies(row.price),
        contract=f"/staff/offline-deals/{row.id}/contract", recorded_at=iso(row.recorded_at) or "",
    )  # fmt: skip


async def _offline_page(request: Request, status: int = 200, message: str = "", code: str = "",
                        values: dict[str, str] | None = None) -> Response:  # fmt: skip
    offline = _offline(request)
    rows = await offline.sql.offline_deals()
    return render(request, "figures/offline.html", status_code=status, message=message, code=code,
                  values=values or {}, choices=await offline.choices(), rows=rows[:LIST_LIMIT],
                  industries=[i.value for i in Industry], forms=[f.value for f in TransactionForm],
                  today=beijing_date(offline.runtime.clock()).isoformat(), qualifies=qualifies,
                  reference=offline_reference, done=request.query_params.get("done") == "1")  # fmt: skip


async def offline_page(request: Request) -> Response:
    return await _offline_page(request)


async def offline_record(request: Request) -> Response:
    """The staff's form: recorded, back to the list (303); refused, the form again with what was
    typed, the refusal and its status."""
    form = await _form(request)
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
    try:
        await _offline(request).record(form_of(form), form.get("contract"), _me(request))
    except UploadRefused as exc:
        return await _offline_page(request, exc.status, text(exc.key, lang_of(request), exc.params), exc.code, values)
    except Refused as exc:
        return await _offline_page(request, exc.status, exc.message(request), exc.code, values)
    return RedirectResponse("/staff/offline-deals?done=1", status_code=303)


async def offline_contract(request: Request) -> Response:
    offline = _offline(request)
    row = await offline.sql.offline(request.path_params["offline_id"])
    stored = None if row is None else await offline.files.get(row.contract)
    if stored is None:
        raise Refused(404, "not_found", "err_no_file")
    return await attachment(offline.files, stored)


# ---------------------------------------------------------------------- JSON


class StatsQuery(msgspec.Struct):
    """``GET /api/stats``'s query: the grouping, and optionally one Beijing year."""

    by: Annotated[By, msgspec.Meta(description="industry, session, month or year")]
    year: Annotated[int, msgspec.Meta(ge=YEAR_MIN, le=YEAR_MAX, description="only this Beijing year")] | None = None


async def api_stats(request: Request) -> Response:
    try:
        query = msgspec.convert(dict(request.query_params), StatsQuery, strict=False)
    except msgspec.ValidationError as exc:
        raise Refused(400, "bad_request", "code_bad_request", detail=str(exc)) from None
    sales, offers = await _figures(request).gather(query.year)
    return answer(tabulate(query.by, sales, offers, lang_of(request)))


async def api_offline_record(request: Request) -> Response:
    form = await _form(request)
    try:
        row = await _offline(request).record(form_of(form), form.get("contract"), _me(request))
    except UploadRefused as exc:
        raise Refused(exc.status, exc.code, exc.key, exc.params) from None
    return answer(offline_item(row), status=201)


OFFLINE_ERRORS: Final = {
    400: ("bad_request", "buyer_required", "unknown_buyer", "bad_date", "bad_form", "industry_required", "missing_file",
          "bad_file", "pdf_inflate_limit", "pdf_time_limit", "pdf_undecodable"),
    404: ("not_found",), 409: ("not_for_sale",), 413: ("too_large",), 429: ("upload_quota",), 503: ("unavailable",),
}  # fmt: skip
routes = [
    route("/staff/figures", figures_page, name="staff_figures"),
    route("/staff/figures/export.csv", figures_csv, name="staff_figures_csv"),
    route("/staff/figures/export.xlsx", figures_xlsx, name="staff_figures_xlsx"),
    route("/staff/offline-deals", offline_page, name="staff_offline_deals"),
    route("/staff/offline-deals", offline_record, name="staff_offline_deal_record", methods=("POST",)),
    route("/staff/offline-deals/{offline_id:id}/contract", offline_contract, name="staff_offline_deal_contract"),
    route("/api/stats", api_stats, name="api_stats", api=Api(
        tag="figures", summary="The exchange's figures per industry, session, month or year", query=StatsQuery,
        answer=list[Figure])),
    route("/api/offline-deals", api_offline_record, name="api_offline_deal_record", methods=("POST",), api=Api(
        tag="figures", summary="Record a deal reached outside the hall (staff)", upload="contract",
        answer=OfflineDealItem, status=201, errors=OFFLINE_ERRORS,
        description="multipart/form-data: `listing`, `price`, `date`, `form`, `buyer_name` or `buyer`, "
                    "`industry` (optional), and the signed contract in `contract` (PDF, JPEG or PNG).")),
]  # fmt: skip
