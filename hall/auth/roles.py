"""Roles, the identity a request carries, and the permission table every route is checked by.

The table is data so that the documentation (docs/permissions.md) and the tests read the
same thing the server enforces.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

import msgspec


class Role(StrEnum):
    BIDDER = "bidder"
    """Any account whose real name is verified (AC-2); derived, never granted."""
    SELLER = "seller"
    """An organisation's account with a shop (AC-4)."""
    AUCTIONEER = "auctioneer"
    STAFF = "staff"
    """The exchange's reviewers (AC-5)."""
    ADMIN = "admin"
    """Grants and revokes roles."""


GRANTABLE: Final = (Role.SELLER, Role.AUCTIONEER, Role.STAFF, Role.ADMIN)


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    phone: str
    name: str
    org: int | None
    verified: bool
    roles: frozenset[Role]

    def has(self, role: Role) -> bool:
        return role in self.roles


class Access(StrEnum):
    ANYONE = "anyone"
    SIGNED_IN = "signed_in"


Rule = Access | frozenset[Role]

PERMISSIONS: Final[dict[str, Rule]] = {
    # name of the route or WebSocket command: who may use it
    "home": Access.ANYONE,
    "healthz": Access.ANYONE,
    "lang": Access.ANYONE,
    "signup": Access.ANYONE,
    "login": Access.ANYONE,
    "logout": Access.SIGNED_IN,
    "login_code": Access.ANYONE,
    "password_reset": Access.ANYONE,
    "api_codes": Access.ANYONE,
    "api_signup": Access.ANYONE,
    "api_login": Access.ANYONE,
    "api_password_reset": Access.ANYONE,
    "api_logout": Access.SIGNED_IN,
    "api_me": Access.SIGNED_IN,
    "api_tokens": Access.SIGNED_IN,
    "api_token_revoke": Access.SIGNED_IN,
    "account": Access.SIGNED_IN,
    "inbox": Access.SIGNED_IN,
    "verification": Access.SIGNED_IN,
    "api_verification": Access.SIGNED_IN,
    "api_verification_apply": Access.SIGNED_IN,
    "lot_register": Access.SIGNED_IN,
    "file": Access.SIGNED_IN,
    "staff_verifications": frozenset({Role.STAFF}),
    "staff_registrations": frozenset({Role.STAFF}),
    "staff_reviews": frozenset({Role.STAFF}),
    "staff_review": frozenset({Role.STAFF}),
    "staff_review_decide": frozenset({Role.STAFF}),
    "api_reviews": frozenset({Role.STAFF}),
    "api_review_decide": frozenset({Role.STAFF}),
    "identity_page": Access.SIGNED_IN,
    "api_identities": Access.SIGNED_IN,
    "api_identity_apply": Access.SIGNED_IN,
    "shop_page": Access.SIGNED_IN,
    "shop_close": Access.SIGNED_IN,
    "shop_public": Access.ANYONE,
    "api_shop_apply": Access.SIGNED_IN,
    "api_shop": Access.ANYONE,
    "api_shop_resubmit": Access.SIGNED_IN,
    "admin_roles": frozenset({Role.ADMIN}),
    "admin_role_change": frozenset({Role.ADMIN}),
    "metrics": Access.ANYONE,
    "ws": Access.ANYONE,
    "ws_page": Access.ANYONE,
    "ws_bid": Access.SIGNED_IN,
    "ws_command": frozenset({Role.AUCTIONEER}),
    "api_lots": Access.ANYONE,
    "api_lot": Access.ANYONE,
    "api_lot_events": Access.ANYONE,
    "api_lot_record": Access.ANYONE,
    "lot_page": Access.ANYONE,
    "lot_bid": Access.SIGNED_IN,
    "console": frozenset({Role.AUCTIONEER}),
    "console_command": frozenset({Role.AUCTIONEER}),
    "vendor_asset": Access.ANYONE,
    "static_asset": Access.ANYONE,
    "favicon": Access.ANYONE,
    "help": Access.ANYONE,
    "my_registrations": Access.SIGNED_IN,
    "my_bids": Access.SIGNED_IN,
    "api_my_registrations": Access.SIGNED_IN,
    "api_my_bids": Access.SIGNED_IN,
    # issue 11: patent lookup (hall/web/patents.py)
    "api_patents": Access.SIGNED_IN,
    "patent_lookup": Access.SIGNED_IN,
    "openapi": Access.ANYONE,
    # issue 11: auction sessions (hall/web/auctions.py)
    "session_page": Access.ANYONE,
    "staff_sessions": frozenset({Role.STAFF}),
    "staff_session_create": frozenset({Role.STAFF}),
    "staff_session": frozenset({Role.STAFF}),
    "staff_session_lot_add": frozenset({Role.STAFF}),
    "staff_session_lot_edit": frozenset({Role.STAFF}),
    "staff_session_lot_remove": frozenset({Role.STAFF}),
    "staff_session_publish": frozenset({Role.STAFF}),
    "api_sessions": Access.ANYONE,
    "api_session_create": frozenset({Role.STAFF}),
    "api_session": Access.ANYONE,
    "api_session_lot_add": frozenset({Role.STAFF}),
    "api_session_lot_edit": frozenset({Role.STAFF}),
    "api_session_lot_remove": frozenset({Role.STAFF}),
    "api_session_publish": frozenset({Role.STAFF}),
    # issue 11: listings (hall/web/listings.py); a seller's routes also need an open shop (403 no_shop)
    "seller_centre": frozenset({Role.SELLER}),
    "listing_new": frozenset({Role.SELLER}),
    "listing_create": frozenset({Role.SELLER}),
    "listing_edit": frozenset({Role.SELLER}),
    "listing_update": frozenset({Role.SELLER}),
    "listing_delist": frozenset({Role.SELLER}),
    "listing_ownership": frozenset({Role.SELLER}),
    "batch_page": frozenset({Role.SELLER}),
    "batch_upload": frozenset({Role.SELLER}),
    "batch_report": frozenset({Role.SELLER}),
    "batch_submit": frozenset({Role.SELLER}),
    "listing_page": Access.ANYONE,
    "api_listing_create": frozenset({Role.SELLER}),
    "api_listings": Access.ANYONE,
    "api_listing": Access.ANYONE,
    "api_listing_update": frozenset({Role.SELLER}),
    "api_listing_delist": frozenset({Role.SELLER}),
    "api_template_patents": Access.ANYONE,
    "api_template_achievements": Access.ANYONE,
    "api_listing_batch": frozenset({Role.SELLER}),
    "api_listing_batch_submit": frozenset({Role.SELLER}),
    # issue 12: deals (hall/web/deals.py); a deal is its buyer's, its seller's and staff's only
    "my_deals": Access.SIGNED_IN,
    "deal_page": Access.SIGNED_IN,
    "deal_contract": Access.SIGNED_IN,
    "deal_payment": Access.SIGNED_IN,
    "deal_confirm_payment": Access.SIGNED_IN,
    "deal_handover": Access.SIGNED_IN,
    "deal_default": frozenset({Role.STAFF}),
    "deal_refuse": frozenset({Role.STAFF}),
    "deal_file": Access.SIGNED_IN,
    "staff_deals": frozenset({Role.STAFF}),
    "verify_form": Access.ANYONE,
    "verify": Access.ANYONE,
    "api_verify": Access.ANYONE,
    "api_deals": Access.SIGNED_IN,
    "api_deal": Access.SIGNED_IN,
    "api_deal_contract": Access.SIGNED_IN,
    "api_deal_payment": Access.SIGNED_IN,
    "api_deal_confirm_payment": Access.SIGNED_IN,
    "api_deal_handover": Access.SIGNED_IN,
    "api_deal_default": frozenset({Role.STAFF}),
    "api_deal_refuse": frozenset({Role.STAFF}),
    "api_deal_notice": Access.SIGNED_IN,
    "api_deal_certificate": Access.SIGNED_IN,
    "api_deal_template": Access.SIGNED_IN,
    # issue 12: figures and deals reached outside the hall (hall/web/figures.py); staff only,
    # the API too: one group's figures can be one negotiated deal's price
    "staff_figures": frozenset({Role.STAFF}),
    "staff_figures_csv": frozenset({Role.STAFF}),
    "staff_figures_xlsx": frozenset({Role.STAFF}),
    "staff_offline_deals": frozenset({Role.STAFF}),
    "staff_offline_deal_record": frozenset({Role.STAFF}),
    "staff_offline_deal_contract": frozenset({Role.STAFF}),
    "api_stats": frozenset({Role.STAFF}),
    "api_offline_deal_record": frozenset({Role.STAFF}),
    # issue 13, piece A: demands (hall/web/demands.py). Who posts, edits and answers is checked in
    # the handler (an approved enterprise identity, an accepted entrustment, the demand's
    # relation: hall.store.demands.demand_access), on top of this table
    "demand_home": Access.ANYONE,
    "demand_page": Access.ANYONE,
    "demand_new": Access.SIGNED_IN,
    "demand_create": Access.SIGNED_IN,
    "demand_edit": Access.SIGNED_IN,
    "demand_update": Access.SIGNED_IN,
    "demand_withdraw": Access.SIGNED_IN,
    "demand_mine": Access.SIGNED_IN,
    "demand_batch_page": Access.SIGNED_IN,
    "demand_batch_upload": Access.SIGNED_IN,
    "demand_entrustments": Access.SIGNED_IN,
    "demand_entrust": Access.SIGNED_IN,
    "demand_entrustment_answer": Access.SIGNED_IN,
    "api_demand_create": Access.SIGNED_IN,
    "api_demands": Access.ANYONE,
    "api_demand": Access.ANYONE,
    "api_demand_update": Access.SIGNED_IN,
    "api_demand_withdraw": Access.SIGNED_IN,
    "api_demand_batch": Access.SIGNED_IN,
    "api_demand_template": Access.ANYONE,
    "api_demand_agencies": Access.ANYONE,
    "api_demand_entrustments": Access.SIGNED_IN,
    "api_demand_entrust": Access.SIGNED_IN,
    "api_demand_entrustment_answer": Access.SIGNED_IN,
    # issue 13, piece B: responses, 立即咨询, adoption, log, outcome, rewards (hall/web/responses.py); who stands
    # where towards the demand (side, agency, staff, solver) is checked in the handler
    "response_respond": Access.SIGNED_IN,
    "response_list": Access.SIGNED_IN,
    "response_adopt": Access.SIGNED_IN,
    "response_file": Access.SIGNED_IN,
    "response_messages": Access.SIGNED_IN,
    "response_log": Access.SIGNED_IN,
    "response_outcome": Access.SIGNED_IN,
    "response_reward": Access.SIGNED_IN,
    "response_mine": Access.SIGNED_IN,
    "api_response_create": Access.SIGNED_IN,
    "api_response_list": Access.SIGNED_IN,
    "api_response_adopt": Access.SIGNED_IN,
    "api_response_message": Access.SIGNED_IN,
    "api_response_messages": Access.SIGNED_IN,
    "api_response_log_add": Access.SIGNED_IN,
    "api_response_log": Access.SIGNED_IN,
    "api_response_outcome_set": Access.SIGNED_IN,
    "api_response_outcome": Access.SIGNED_IN,
    "api_response_reward_apply": Access.SIGNED_IN,
    "api_response_rewards": Access.SIGNED_IN,
    "api_response_mine": Access.SIGNED_IN,
    "api_inbox": Access.SIGNED_IN,
    # issue 13, piece C: matching (hall/web/matching.py); a demand's matches are its side's, its
    # agency's and staff's (checked in the handler), recommendations the signed-in solver's own
    "matching_hot": Access.ANYONE,
    "matching_api_hot": Access.ANYONE,
    "matching_patents": Access.SIGNED_IN,
    "matching_api_patents": Access.SIGNED_IN,
    "matching_recommendations": Access.SIGNED_IN,
    "matching_api_recommendations": Access.SIGNED_IN,
    # issue 13, piece D: roadshows and picks (hall/web/roadshows.py). Who sees which roadshow is
    # checked in the handler (hall.roadshows.Seat): the demand's side, agency and staff see all
    # of its roadshows, an invited solver its own invitations, anyone else only the award.
    "roadshow_staff": frozenset({Role.STAFF}),
    "roadshow_schedule": frozenset({Role.STAFF}),
    "roadshow_staff_page": frozenset({Role.STAFF}),
    "roadshow_score": frozenset({Role.STAFF}),
    "roadshow_award": frozenset({Role.STAFF}),
    "roadshow_demand": Access.ANYONE,
    "roadshow_picks": frozenset({Role.STAFF}),
    "roadshow_pick": frozenset({Role.STAFF}),
    "api_roadshows": frozenset({Role.STAFF}),
    "api_roadshow_schedule": frozenset({Role.STAFF}),
    "api_roadshow": Access.SIGNED_IN,
    "api_roadshow_score": frozenset({Role.STAFF}),
    "api_roadshow_award": frozenset({Role.STAFF}),
    "api_roadshow_demand": Access.ANYONE,
    "api_roadshow_picks": frozenset({Role.STAFF}),
    "api_roadshow_pick": frozenset({Role.STAFF}),
}
"""Every route and command is listed; a name missing here is refused (see ``allowed``).

Ownership (a letter is its uploader's and staff's; a registration needs a verified account
that is not the seller's) is checked in the handler, on top of this table."""


def allowed(name: str, identity: Identity | None) -> bool:
    rule = PERMISSIONS.get(name)
    if rule is None:
        return False
    if rule is Access.ANYONE:
        return True
    if identity is None:
        return False
    if rule is Access.SIGNED_IN:
        return True
    assert isinstance(rule, frozenset)
    return not rule.isdisjoint(identity.roles)


def describe(rule: Rule) -> str:
    """A rule in words, as docs/permissions.md's "Who" column, docs/api.md and /openapi.json
    write it: ``anyone``, ``signed in``, or the roles of which one is needed."""
    if rule is Access.ANYONE:
        return "anyone"
    if rule is Access.SIGNED_IN:
        return "signed in"
    assert isinstance(rule, frozenset)
    return " or ".join(sorted(role.value for role in rule))
