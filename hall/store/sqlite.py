"""The embedded store: one SQLite file in WAL mode with ``synchronous=FULL``.

Four connections. The journal's events are committed on the writer thread's own (hall/store/
writer.py: it chains, encodes and commits batches back to back, off the event loop). Every
other write goes through ``transaction`` on the aiosqlite writer, behind an asyncio lock so that
each write transaction is whole (aiosqlite runs every call on its own thread, so calls of two
coroutines could otherwise interleave inside one transaction) and in a turn of the writer
thread, so that the two writers never contend for SQLite's lock. One reader, which WAL lets run
beside the writers; one for the checkpoint thread.
Events are stored as msgpack in commit order (rowid), with a unique (lot, seq) index: a
lot's events are one range of that index, read back in order without a sort, and appends
land at the end of the table. (Keying the table itself by (lot, seq), WITHOUT ROWID, wrote
a fifth slower here: interleaved lots make every batch touch pages all over the tree.)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import operator
import sqlite3
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import aiosqlite
import msgspec

from hall.engine import AnyEvent, LotSpec, LotState, Registrant
from hall.engine.events import decode, encode
from hall.listing import LotDetails
from hall.record import GENESIS, link, links
from hall.store.base import StoredLot, StoreError
from hall.store.writer import Batch, Checkpointer, Writer, merged

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE lots (
        id INTEGER PRIMARY KEY,
        spec BLOB NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        lot INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        body BLOB NOT NULL,
        UNIQUE (lot, seq)
    );
    CREATE TABLE snapshots (
        lot INTEGER PRIMARY KEY REFERENCES lots(id),
        seq INTEGER NOT NULL,
        body BLOB NOT NULL
    );
    CREATE TABLE bidders (
        lot INTEGER NOT NULL REFERENCES lots(id),
        user INTEGER NOT NULL,
        number TEXT NOT NULL,
        org INTEGER,
        PRIMARY KEY (lot, user),
        UNIQUE (lot, number)
    );
    """,
    """
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE orgs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        phone TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        org INTEGER REFERENCES orgs(id),
        verified INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE roles (
        user INTEGER NOT NULL REFERENCES users(id),
        role TEXT NOT NULL,
        granted_by INTEGER REFERENCES users(id),
        granted_at INTEGER NOT NULL,
        PRIMARY KEY (user, role)
    );
    CREATE TABLE sessions (
        id_hash BLOB PRIMARY KEY,
        user INTEGER NOT NULL REFERENCES users(id),
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        user INTEGER NOT NULL REFERENCES users(id),
        label TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        owner INTEGER NOT NULL REFERENCES users(id),
        stored_name TEXT NOT NULL UNIQUE,
        original_name TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE verifications (
        id INTEGER PRIMARY KEY,
        user INTEGER NOT NULL REFERENCES users(id),
        kind TEXT NOT NULL,
        real_name TEXT NOT NULL,
        org_name TEXT,
        org_kind TEXT,
        document INTEGER REFERENCES files(id),
        status TEXT NOT NULL,
        reason TEXT,
        reviewer INTEGER REFERENCES users(id),
        created_at INTEGER NOT NULL,
        reviewed_at INTEGER
    );
    CREATE TABLE registrations (
        id INTEGER PRIMARY KEY,
        lot INTEGER NOT NULL REFERENCES lots(id),
        user INTEGER NOT NULL REFERENCES users(id),
        letter INTEGER NOT NULL REFERENCES files(id),
        status TEXT NOT NULL,
        reason TEXT,
        reviewer INTEGER REFERENCES users(id),
        created_at INTEGER NOT NULL,
        reviewed_at INTEGER,
        UNIQUE (lot, user)
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        user INTEGER NOT NULL REFERENCES users(id),
        phone TEXT NOT NULL,
        template TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        sent_at INTEGER,
        error TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    CREATE TABLE inbox (
        id INTEGER PRIMARY KEY,
        user INTEGER NOT NULL REFERENCES users(id),
        outbox INTEGER UNIQUE REFERENCES outbox(id),
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        read_at INTEGER
    );
    ALTER TABLE lots ADD COLUMN session TEXT NOT NULL DEFAULT '';
    """,
    """
    ALTER TABLE lots ADD COLUMN details BLOB;
    """,
    # 4: SMS codes (hall/store/codes.py). An SMS may now go to a phone with no account (a
    # sign-up code), so outbox.user becomes nullable: SQLite cannot drop a NOT NULL, so the
    # table is rebuilt (foreign keys are off while a migration runs; see ``_migrate``).
    """
    CREATE TABLE outbox_new (
        id INTEGER PRIMARY KEY,
        user INTEGER REFERENCES users(id),
        phone TEXT NOT NULL,
        template TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        sent_at INTEGER,
        error TEXT,
        created_at INTEGER NOT NULL
    );
    INSERT INTO outbox_new SELECT id, user, phone, template, body, status, attempts, next_attempt_at,
        sent_at, error, created_at FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_new RENAME TO outbox;
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    CREATE TABLE codes (
        id INTEGER PRIMARY KEY,
        phone TEXT NOT NULL,
        purpose TEXT NOT NULL,
        address TEXT NOT NULL,
        code_hash BLOB NOT NULL,
        tries INTEGER NOT NULL DEFAULT 0,
        outbox INTEGER REFERENCES outbox(id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        ended_at INTEGER
    );
    CREATE INDEX codes_phone ON codes (phone, created_at);
    CREATE INDEX codes_address ON codes (address, created_at);
    """,
    # 5: the supply side (issue 11): identities (AC-3), shops (AC-4), listings (LS-1 to LS-10)
    # and auction sessions with their lots (AU-1, AU-2). Each table's ``state`` is its own
    # lifecycle; the staff decisions that move it are applications of the one review mechanism
    # (hall/reviews.py), which keeps who decided what, when and why.
    """
    CREATE TABLE identities (
        id INTEGER PRIMARY KEY,
        user INTEGER NOT NULL REFERENCES users(id),
        org INTEGER REFERENCES orgs(id),
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        details BLOB,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX identities_user ON identities (user);
    CREATE TABLE identity_documents (
        identity INTEGER NOT NULL REFERENCES identities(id),
        file INTEGER NOT NULL REFERENCES files(id),
        PRIMARY KEY (identity, file)
    );
    CREATE TABLE shops (
        id INTEGER PRIMARY KEY,
        owner INTEGER NOT NULL REFERENCES users(id),
        identity INTEGER NOT NULL REFERENCES identities(id),
        org INTEGER REFERENCES orgs(id),
        name TEXT NOT NULL,
        contact_name TEXT NOT NULL,
        contact_phone TEXT NOT NULL,
        contact_email TEXT NOT NULL DEFAULT '',
        intro TEXT NOT NULL DEFAULT '',
        terms_version TEXT NOT NULL,
        terms_accepted_at INTEGER NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX shops_org ON shops (org) WHERE org IS NOT NULL;
    CREATE UNIQUE INDEX shops_owner ON shops (owner);
    CREATE TABLE listings (
        id INTEGER PRIMARY KEY,
        shop INTEGER NOT NULL REFERENCES shops(id),
        org INTEGER REFERENCES orgs(id),
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        number TEXT NOT NULL DEFAULT '',
        holder TEXT NOT NULL,
        ownership TEXT NOT NULL,
        authorisation INTEGER REFERENCES files(id),
        draft BLOB NOT NULL,
        start_price INTEGER NOT NULL,
        season INTEGER,
        agreement_version TEXT NOT NULL,
        agreement_at INTEGER NOT NULL,
        state TEXT NOT NULL,
        created_by INTEGER NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX listings_shop ON listings (shop, state);
    CREATE INDEX listings_season ON listings (season, org);
    CREATE TABLE auctions (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        industry TEXT NOT NULL,
        low_carbon INTEGER NOT NULL DEFAULT 0,
        day TEXT NOT NULL,
        mode TEXT NOT NULL,
        auctioneer INTEGER REFERENCES users(id),
        publicity_start INTEGER NOT NULL,
        bidding_start INTEGER NOT NULL,
        bidding_end INTEGER NOT NULL,
        state TEXT NOT NULL,
        created_by INTEGER NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL,
        published_at INTEGER
    );
    CREATE INDEX auctions_day ON auctions (day);
    CREATE TABLE auction_lots (
        auction INTEGER NOT NULL REFERENCES auctions(id),
        listing INTEGER NOT NULL REFERENCES listings(id),
        position INTEGER NOT NULL,
        start_price INTEGER NOT NULL,
        increment INTEGER NOT NULL,
        reserve INTEGER,
        window INTEGER NOT NULL,
        extension INTEGER NOT NULL,
        bidding_end INTEGER,
        lot INTEGER UNIQUE REFERENCES lots(id),
        PRIMARY KEY (auction, listing)
    );
    CREATE INDEX auction_lots_listing ON auction_lots (listing);
    """,
    # 6: the one review mechanism (AC-5, hall/reviews): every application staff decide, of any
    # kind, with the documents handed in with it and an audit row for each step. ``subject`` is
    # the id of what is reviewed in its kind's own table (a verification, a registration, an
    # identity, a shop, a listing). The verifications and registrations already decided or
    # waiting move onto it as they stand: one application each, its audit rows from their times.
    """
    CREATE TABLE applications (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        subject INTEGER NOT NULL,
        applicant INTEGER NOT NULL REFERENCES users(id),
        state TEXT NOT NULL,
        submitted_at INTEGER NOT NULL,
        decided_at INTEGER,
        decided_by INTEGER REFERENCES users(id),
        reason TEXT
    );
    CREATE INDEX applications_queue ON applications (state, kind, submitted_at);
    CREATE INDEX applications_subject ON applications (kind, subject);
    CREATE INDEX applications_applicant ON applications (applicant);
    CREATE UNIQUE INDEX applications_one_pending ON applications (kind, subject) WHERE state = 'pending';
    CREATE TABLE application_documents (
        application INTEGER NOT NULL REFERENCES applications(id),
        file INTEGER NOT NULL REFERENCES files(id),
        PRIMARY KEY (application, file)
    );
    CREATE TABLE application_audit (
        id INTEGER PRIMARY KEY,
        application INTEGER NOT NULL REFERENCES applications(id),
        actor INTEGER NOT NULL REFERENCES users(id),
        action TEXT NOT NULL,
        reason TEXT,
        at INTEGER NOT NULL
    );
    CREATE INDEX application_audit_application ON application_audit (application);
    INSERT INTO applications (kind, subject, applicant, state, submitted_at, decided_at, decided_by, reason)
        SELECT 'verification', id, user, status, created_at, reviewed_at, reviewer, reason FROM verifications
        ORDER BY created_at, id;
    INSERT INTO applications (kind, subject, applicant, state, submitted_at, decided_at, decided_by, reason)
        SELECT 'registration', id, user, status, created_at, reviewed_at, reviewer, reason FROM registrations
        ORDER BY created_at, id;
    INSERT INTO application_documents (application, file)
        SELECT a.id, v.document FROM applications a JOIN verifications v ON a.kind = 'verification'
        AND v.id = a.subject WHERE v.document IS NOT NULL;
    INSERT INTO application_documents (application, file)
        SELECT a.id, r.letter FROM applications a JOIN registrations r ON a.kind = 'registration' AND r.id = a.subject;
    INSERT INTO application_audit (application, actor, action, reason, at)
        SELECT id, applicant, 'submitted', NULL, submitted_at FROM applications;
    INSERT INTO application_audit (application, actor, action, reason, at)
        SELECT id, decided_by, state, reason, decided_at FROM applications
        WHERE state IN ('approved', 'rejected') AND decided_by IS NOT NULL;
    """,
    # 7: issue 11's auction sessions (hall/auctions.py): staggered ends, the seconds between the
    # planned ends of a session's consecutive lots (0: all end at the session's end).
    """
    ALTER TABLE auctions ADD COLUMN stagger INTEGER NOT NULL DEFAULT 0;
    """,
    # 8: patent lookup (issue 11, hall/store/patents.py). The local patent catalogue, and its
    # full-text index over character bigrams: the index's text is made in Python (``grams``),
    # so it is an ordinary FTS5 table whose rowid is the catalogue row's id.
    """
    CREATE TABLE patent_catalogue (
        id INTEGER PRIMARY KEY,
        number TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        holder TEXT NOT NULL,
        grant_date TEXT,
        ipc TEXT NOT NULL DEFAULT '',
        legal_status TEXT,
        abstract TEXT NOT NULL DEFAULT '',
        application_date TEXT,
        inventors TEXT NOT NULL DEFAULT '',
        imported_at INTEGER NOT NULL
    );
    CREATE VIRTUAL TABLE patent_catalogue_fts USING fts5(title, holder, number, abstract, tokenize = 'ascii');
    """,
    # 9: listings (issue 11, hall/store/listings.py): each auction season's entry rules as data
    # (LS-6, LS-10), an upload's per-row report kept between the upload and the listing of its
    # good rows (LS-8, owner-bound, expiring), the batch a listing came from, and the
    # applications to change a listing's ownership status (LS-4).
    """
    CREATE TABLE seasons (
        year INTEGER PRIMARY KEY,
        rules BLOB NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE listing_batches (
        id INTEGER PRIMARY KEY,
        owner INTEGER NOT NULL REFERENCES users(id),
        shop INTEGER NOT NULL REFERENCES shops(id),
        kind TEXT NOT NULL,
        report BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        submitted_at INTEGER
    );
    CREATE INDEX listing_batches_owner ON listing_batches (owner, created_at);
    ALTER TABLE listings ADD COLUMN batch INTEGER REFERENCES listing_batches(id);
    CREATE TABLE ownership_changes (
        id INTEGER PRIMARY KEY,
        listing INTEGER NOT NULL REFERENCES listings(id),
        ownership TEXT NOT NULL,
        note TEXT NOT NULL,
        document INTEGER REFERENCES files(id),
        state TEXT NOT NULL,
        created_by INTEGER NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL
    );
    CREATE INDEX ownership_changes_listing ON ownership_changes (listing);
    """,
    # 10: each lot's events in a hash chain (issue 12, hall/record.py): the digest after each
    # event, stored beside it. The events already stored get theirs here, in this migration's
    # transaction: ``hall_chain`` is a window function ``_migrate`` registers, whose value at
    # each event of a lot (in seq order) is the digest after it. One pass over the events in
    # Python, a few microseconds each (docs/durability.md has the figure). The empty default
    # is never left in place (every event is given its digest), and never matches one.
    """
    ALTER TABLE events ADD COLUMN digest BLOB NOT NULL DEFAULT x'';
    UPDATE events SET digest = chained.digest
        FROM (SELECT id, hall_chain(body) OVER (PARTITION BY lot ORDER BY seq) AS digest FROM events) AS chained
        WHERE events.id = chained.id;
    """,
    # 11: issue 12's deals (hall/deals.py): what follows the hammer. One deal per sold lot (the
    # UNIQUE lot is what makes deriving it from the journal exactly-once), the documents the
    # parties hand in, and a step row for every change (who, what, when, why). The deal keeps
    # the facts its notice and certificate print, as they stood when it was made, so that a
    # document made again is the same document.
    """
    CREATE TABLE deals (
        id INTEGER PRIMARY KEY,
        lot INTEGER NOT NULL UNIQUE REFERENCES lots(id),
        listing INTEGER REFERENCES listings(id),
        buyer INTEGER NOT NULL REFERENCES users(id),
        buyer_org INTEGER REFERENCES orgs(id),
        buyer_name TEXT NOT NULL,
        bidder_number TEXT NOT NULL,
        seller INTEGER REFERENCES users(id),
        seller_org INTEGER REFERENCES orgs(id),
        seller_name TEXT NOT NULL,
        price INTEGER NOT NULL,
        form TEXT NOT NULL,
        title TEXT NOT NULL,
        item_number TEXT NOT NULL,
        item_kind TEXT NOT NULL,
        session TEXT NOT NULL,
        closed_at INTEGER NOT NULL,
        digest TEXT NOT NULL,
        notice_number TEXT NOT NULL UNIQUE,
        verify_code TEXT NOT NULL UNIQUE,
        notified_at INTEGER NOT NULL,
        contract_due TEXT NOT NULL,
        remind_at INTEGER NOT NULL,
        reminded_at INTEGER,
        state TEXT NOT NULL,
        contracted_at INTEGER,
        paid_at INTEGER,
        buyer_handover_at INTEGER,
        seller_handover_at INTEGER,
        certificate_number TEXT UNIQUE,
        certified_at INTEGER,
        defaulted_at INTEGER,
        default_reason TEXT,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX deals_buyer ON deals (buyer);
    CREATE INDEX deals_seller ON deals (seller);
    CREATE INDEX deals_state ON deals (state, contract_due);
    CREATE INDEX deals_reminders ON deals (remind_at) WHERE reminded_at IS NULL AND state = 'notified';
    CREATE TABLE deal_documents (
        id INTEGER PRIMARY KEY,
        deal INTEGER NOT NULL REFERENCES deals(id),
        kind TEXT NOT NULL,
        party TEXT NOT NULL,
        file INTEGER NOT NULL REFERENCES files(id),
        state TEXT NOT NULL,
        uploaded_by INTEGER NOT NULL REFERENCES users(id),
        uploaded_at INTEGER NOT NULL,
        reason TEXT,
        decided_by INTEGER REFERENCES users(id),
        decided_at INTEGER
    );
    CREATE INDEX deal_documents_deal ON deal_documents (deal, kind, party);
    CREATE INDEX deal_documents_disputed ON deal_documents (deal) WHERE state = 'disputed';
    CREATE TABLE deal_steps (
        id INTEGER PRIMARY KEY,
        deal INTEGER NOT NULL REFERENCES deals(id),
        action TEXT NOT NULL,
        actor INTEGER REFERENCES users(id),
        state TEXT NOT NULL,
        document INTEGER REFERENCES deal_documents(id),
        reason TEXT,
        at INTEGER NOT NULL
    );
    CREATE INDEX deal_steps_deal ON deal_steps (deal, id);
    """,
    # 12: issue 12's deals reached outside the hall (AU-11, hall/offline_deals.py), which count in
    # the exchange's figures (hall/figures.py). Like a deal, a row keeps the facts as they stood
    # when staff recorded it (title, seller, the listing's start price), so later edits of the
    # listing do not change past figures; ``session`` is the last published session that offered
    # the item (NULL: none), ``day`` the deal's Beijing date (YYYY-MM-DD).
    """
    CREATE TABLE offline_deals (
        id INTEGER PRIMARY KEY,
        listing INTEGER NOT NULL REFERENCES listings(id),
        industry TEXT NOT NULL,
        session INTEGER REFERENCES auctions(id),
        buyer INTEGER REFERENCES users(id),
        buyer_name TEXT NOT NULL,
        seller_name TEXT NOT NULL,
        title TEXT NOT NULL,
        item_number TEXT NOT NULL,
        start_price INTEGER NOT NULL,
        price INTEGER NOT NULL,
        day TEXT NOT NULL,
        form TEXT NOT NULL,
        contract INTEGER NOT NULL REFERENCES files(id),
        recorded_by INTEGER NOT NULL REFERENCES users(id),
        recorded_at INTEGER NOT NULL
    );
    CREATE INDEX offline_deals_day ON offline_deals (day);
    """,
    # 13: a deal whose contract due date the working-day calendar cannot give yet (hall/workdays:
    # a year ``chinese-calendar`` does not know) is made all the same, its ``contract_due`` and
    # ``remind_at`` NULL until a calendar that knows the year fills them in (``Deals.date``).
    # SQLite cannot drop a NOT NULL, so the table is rebuilt as migration 4 rebuilt ``outbox``
    # (foreign keys are off while a migration runs; see ``_migrate``).
    """
    CREATE TABLE deals_new (
        id INTEGER PRIMARY KEY,
        lot INTEGER NOT NULL UNIQUE REFERENCES lots(id),
        listing INTEGER REFERENCES listings(id),
        buyer INTEGER NOT NULL REFERENCES users(id),
        buyer_org INTEGER REFERENCES orgs(id),
        buyer_name TEXT NOT NULL,
        bidder_number TEXT NOT NULL,
        seller INTEGER REFERENCES users(id),
        seller_org INTEGER REFERENCES orgs(id),
        seller_name TEXT NOT NULL,
        price INTEGER NOT NULL,
        form TEXT NOT NULL,
        title TEXT NOT NULL,
        item_number TEXT NOT NULL,
        item_kind TEXT NOT NULL,
        session TEXT NOT NULL,
        closed_at INTEGER NOT NULL,
        digest TEXT NOT NULL,
        notice_number TEXT NOT NULL UNIQUE,
        verify_code TEXT NOT NULL UNIQUE,
        notified_at INTEGER NOT NULL,
        contract_due TEXT,
        remind_at INTEGER,
        reminded_at INTEGER,
        state TEXT NOT NULL,
        contracted_at INTEGER,
        paid_at INTEGER,
        buyer_handover_at INTEGER,
        seller_handover_at INTEGER,
        certificate_number TEXT UNIQUE,
        certified_at INTEGER,
        defaulted_at INTEGER,
        default_reason TEXT,
        updated_at INTEGER NOT NULL
    );
    INSERT INTO deals_new (
        id, lot, listing, buyer, buyer_org, buyer_name, bidder_number, seller, seller_org,
        seller_name, price, form, title, item_number, item_kind, session, closed_at, digest,
        notice_number, verify_code, notified_at, contract_due, remind_at, reminded_at, state,
        contracted_at, paid_at, buyer_handover_at, seller_handover_at, certificate_number,
        certified_at, defaulted_at, default_reason, updated_at
    ) SELECT
        id, lot, listing, buyer, buyer_org, buyer_name, bidder_number, seller, seller_org,
        seller_name, price, form, title, item_number, item_kind, session, closed_at, digest,
        notice_number, verify_code, notified_at, contract_due, remind_at, reminded_at, state,
        contracted_at, paid_at, buyer_handover_at, seller_handover_at, certificate_number,
        certified_at, defaulted_at, default_reason, updated_at
    FROM deals;
    DROP TABLE deals;
    ALTER TABLE deals_new RENAME TO deals;
    CREATE INDEX deals_buyer ON deals (buyer);
    CREATE INDEX deals_seller ON deals (seller);
    CREATE INDEX deals_state ON deals (state, contract_due);
    CREATE INDEX deals_reminders ON deals (remind_at) WHERE reminded_at IS NULL AND state = 'notified';
    CREATE INDEX deals_undated ON deals (notified_at) WHERE contract_due IS NULL;
    """,
    # 14: issue 13's research crowdsourcing (CR-1 to CR-12, hall/demands.py). A demand's side is
    # its enterprise (``enterprise`` and its organisation); an entrusted demand is worked by a
    # technology-transfer organisation (``agency_org``, through an accepted entrustment) on the
    # enterprise's behalf. ``number`` (ZB + year + 4 digits) is given at the first publication
    # from ``demand_numbers``, one counter per year that only goes up, so a number is never
    # reused. ``hidden`` is the JSON list of fields the public must not see (CR-4). A restart
    # after an unresolved round opens a new ``round`` under the same number; each round's dates
    # and outcome stay in ``demand_rounds``, and responses, log entries and messages carry the
    # round they belong to. ``demand_fts`` holds a published demand's public text in three columns:
    # what it asks (title, body) and who asks (names), so matching can rank on the first alone.
    # Dates are Beijing days (YYYY-MM-DD), instants ms since the epoch.
    """
    CREATE TABLE entrustments (
        id INTEGER PRIMARY KEY,
        enterprise INTEGER NOT NULL REFERENCES users(id),
        enterprise_org INTEGER REFERENCES orgs(id),
        agency_org INTEGER NOT NULL REFERENCES orgs(id),
        note TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,
        decided_by INTEGER REFERENCES users(id),
        decided_at INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX entrustments_enterprise ON entrustments (enterprise);
    CREATE INDEX entrustments_agency ON entrustments (agency_org, state);
    CREATE TABLE demand_numbers (
        year INTEGER PRIMARY KEY,
        last INTEGER NOT NULL
    );
    CREATE TABLE demands (
        id INTEGER PRIMARY KEY,
        number TEXT UNIQUE,
        enterprise INTEGER NOT NULL REFERENCES users(id),
        enterprise_org INTEGER REFERENCES orgs(id),
        agency_org INTEGER REFERENCES orgs(id),
        entrustment INTEGER REFERENCES entrustments(id),
        title TEXT NOT NULL,
        industry TEXT NOT NULL,
        description TEXT NOT NULL,
        requirements TEXT NOT NULL DEFAULT '',
        manager TEXT NOT NULL DEFAULT '',
        service_mode TEXT NOT NULL,
        investment INTEGER NOT NULL,
        cooperation TEXT NOT NULL,
        contact_name TEXT NOT NULL DEFAULT '',
        contact_phone TEXT NOT NULL DEFAULT '',
        valid_until TEXT NOT NULL,
        response_deadline TEXT NOT NULL,
        hidden TEXT NOT NULL DEFAULT '[]',
        state TEXT NOT NULL,
        round INTEGER NOT NULL DEFAULT 1,
        adopted INTEGER,
        adopted_at INTEGER,
        fee INTEGER,
        resolved_at INTEGER,
        pick INTEGER NOT NULL DEFAULT 0,
        views INTEGER NOT NULL DEFAULT 0,
        batch INTEGER,
        created_by INTEGER NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        published_at INTEGER
    );
    CREATE INDEX demands_state ON demands (state, industry);
    CREATE INDEX demands_enterprise ON demands (enterprise);
    CREATE INDEX demands_agency ON demands (agency_org);
    CREATE TABLE demand_rounds (
        demand INTEGER NOT NULL REFERENCES demands(id),
        round INTEGER NOT NULL,
        valid_until TEXT NOT NULL,
        response_deadline TEXT NOT NULL,
        outcome TEXT,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        PRIMARY KEY (demand, round)
    );
    CREATE TABLE demand_responses (
        id INTEGER PRIMARY KEY,
        demand INTEGER NOT NULL REFERENCES demands(id),
        round INTEGER NOT NULL,
        solver INTEGER NOT NULL REFERENCES users(id),
        solver_org INTEGER REFERENCES orgs(id),
        summary TEXT NOT NULL,
        approach TEXT NOT NULL,
        team TEXT NOT NULL DEFAULT '',
        budget INTEGER,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX demand_responses_demand ON demand_responses (demand, round);
    CREATE INDEX demand_responses_solver ON demand_responses (solver);
    CREATE TABLE demand_response_files (
        response INTEGER NOT NULL REFERENCES demand_responses(id),
        file INTEGER NOT NULL REFERENCES files(id),
        PRIMARY KEY (response, file)
    );
    CREATE TABLE demand_messages (
        id INTEGER PRIMARY KEY,
        demand INTEGER NOT NULL REFERENCES demands(id),
        solver INTEGER NOT NULL REFERENCES users(id),
        author INTEGER NOT NULL REFERENCES users(id),
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX demand_messages_thread ON demand_messages (demand, solver, id);
    CREATE TABLE demand_log (
        id INTEGER PRIMARY KEY,
        demand INTEGER NOT NULL REFERENCES demands(id),
        round INTEGER NOT NULL,
        day TEXT NOT NULL,
        body TEXT NOT NULL,
        author INTEGER NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL
    );
    CREATE INDEX demand_log_demand ON demand_log (demand, id);
    CREATE TABLE reward_applications (
        id INTEGER PRIMARY KEY,
        demand INTEGER NOT NULL REFERENCES demands(id),
        applicant INTEGER NOT NULL REFERENCES users(id),
        org INTEGER REFERENCES orgs(id),
        profile TEXT NOT NULL,
        declaration TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX reward_applications_demand ON reward_applications (demand);
    CREATE TABLE reward_files (
        reward INTEGER NOT NULL REFERENCES reward_applications(id),
        file INTEGER NOT NULL REFERENCES files(id),
        PRIMARY KEY (reward, file)
    );
    CREATE TABLE roadshows (
        id INTEGER PRIMARY KEY,
        demand INTEGER NOT NULL REFERENCES demands(id),
        round INTEGER NOT NULL,
        title TEXT NOT NULL,
        starts_at INTEGER NOT NULL,
        place TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,
        created_by INTEGER NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL,
        awarded_at INTEGER
    );
    CREATE INDEX roadshows_demand ON roadshows (demand);
    CREATE TABLE roadshow_invites (
        roadshow INTEGER NOT NULL REFERENCES roadshows(id),
        response INTEGER NOT NULL REFERENCES demand_responses(id),
        winner INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (roadshow, response)
    );
    CREATE TABLE roadshow_scores (
        id INTEGER PRIMARY KEY,
        roadshow INTEGER NOT NULL REFERENCES roadshows(id),
        response INTEGER NOT NULL REFERENCES demand_responses(id),
        expert TEXT NOT NULL,
        score INTEGER NOT NULL,
        comment TEXT NOT NULL DEFAULT '',
        recorded_by INTEGER NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL
    );
    CREATE INDEX roadshow_scores_roadshow ON roadshow_scores (roadshow, response);
    CREATE TABLE demand_pushes (
        solver INTEGER NOT NULL REFERENCES users(id),
        day TEXT NOT NULL,
        demand INTEGER NOT NULL REFERENCES demands(id),
        created_at INTEGER NOT NULL,
        PRIMARY KEY (solver, day)
    );
    CREATE VIRTUAL TABLE demand_fts USING fts5(title, body, names, tokenize = 'ascii');
    """,
    # 15: issue 13's matching (hall/matching.py, hall/store/matching.py, piece C). Two indexes of
    # public text as character pairs (``hall.store.patents.grams``), as the patent catalogue's:
    # the exchange's listed items (``listing_fts``, rowid = listing id) and the solvers, accounts
    # with an approved identity (``solver_fts``, rowid = user id: their shop introduction and
    # public listings, never names), each with its industries beside the text. The
    # index text is made in Python, so the triggers only mark what changed in ``match_stale``;
    # ``hall.store.matching.refresh`` re-indexes the marked rows, a bounded number at a time,
    # before each ranking. Every listing and solver there is now is marked here, so the first
    # refresh fills both indexes. The ``fts5vocab`` tables give each term's document count,
    # with which a ranking leaves out the terms nearly every row holds (一种, 方法).
    """
    CREATE VIRTUAL TABLE listing_fts USING fts5(title, abstract, industry UNINDEXED, tokenize = 'ascii');
    CREATE VIRTUAL TABLE solver_fts USING fts5(profile, industries UNINDEXED, tokenize = 'ascii');
    CREATE TABLE match_stale (
        kind TEXT NOT NULL,
        id INTEGER NOT NULL,
        PRIMARY KEY (kind, id)
    ) WITHOUT ROWID;
    CREATE TRIGGER match_listing_added AFTER INSERT ON listings BEGIN
        INSERT OR IGNORE INTO match_stale VALUES ('listing', NEW.id);
        INSERT OR IGNORE INTO match_stale SELECT 'solver', owner FROM shops WHERE id = NEW.shop;
        INSERT OR IGNORE INTO match_stale SELECT 'solver', user FROM identities WHERE org = NEW.org;
    END;
    CREATE TRIGGER match_listing_changed AFTER UPDATE ON listings BEGIN
        INSERT OR IGNORE INTO match_stale VALUES ('listing', NEW.id);
        INSERT OR IGNORE INTO match_stale SELECT 'solver', owner FROM shops WHERE id IN (OLD.shop, NEW.shop);
        INSERT OR IGNORE INTO match_stale SELECT 'solver', user FROM identities WHERE org IN (OLD.org, NEW.org);
    END;
    CREATE TRIGGER match_identity_added AFTER INSERT ON identities BEGIN
        INSERT OR IGNORE INTO match_stale VALUES ('solver', NEW.user);
    END;
    CREATE TRIGGER match_identity_changed AFTER UPDATE ON identities BEGIN
        INSERT OR IGNORE INTO match_stale VALUES ('solver', OLD.user);
        INSERT OR IGNORE INTO match_stale VALUES ('solver', NEW.user);
    END;
    CREATE TRIGGER match_shop_added AFTER INSERT ON shops BEGIN
        INSERT OR IGNORE INTO match_stale VALUES ('solver', NEW.owner);
    END;
    CREATE TRIGGER match_shop_changed AFTER UPDATE ON shops BEGIN
        INSERT OR IGNORE INTO match_stale VALUES ('solver', OLD.owner);
        INSERT OR IGNORE INTO match_stale VALUES ('solver', NEW.owner);
    END;
    CREATE TRIGGER match_user_changed AFTER UPDATE OF name, org ON users BEGIN
        INSERT OR IGNORE INTO match_stale VALUES ('solver', NEW.id);
    END;
    INSERT OR IGNORE INTO match_stale SELECT 'listing', id FROM listings WHERE state = 'listed';
    INSERT OR IGNORE INTO match_stale SELECT 'solver', user FROM identities WHERE state = 'approved';
    CREATE VIRTUAL TABLE patent_vocab USING fts5vocab(patent_catalogue_fts, row);
    CREATE VIRTUAL TABLE listing_vocab USING fts5vocab(listing_fts, row);
    CREATE VIRTUAL TABLE solver_vocab USING fts5vocab(solver_fts, row);
    CREATE VIRTUAL TABLE demand_vocab USING fts5vocab(demand_fts, row);
    """,
)
"""Schema versions in order; ``PRAGMA user_version`` says how many have run. Append only."""

_encoder = msgspec.msgpack.Encoder()
_spec_decoder = msgspec.msgpack.Decoder(LotSpec)
_details_decoder = msgspec.msgpack.Decoder(LotDetails)
T = TypeVar("T")


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Callers see StoreError, whatever the database said."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(str(exc)) from exc


_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=FULL",
    "busy_timeout=5000",
    "cache_size=-65536",  # 64 MiB: the hot end of the (lot, seq) index stays in memory
    "foreign_keys=ON",
    # Never a checkpoint inside a commit (a commit crossing the threshold ran it, and the bids
    # waiting on that commit waited for it): the Checkpointer's thread runs them instead.
    "wal_autocheckpoint=0",
    "journal_size_limit=67108864",  # a WAL file restarted from its start is cut back to 64 MiB
)


async def _connect(path: str) -> aiosqlite.Connection:
    # IMMEDIATE: the first write of a transaction takes the write lock. Any thread may use it
    # (``check_same_thread``): an in-memory database has no second connection, so there the
    # writer thread commits on this one's (``SqliteStore.open``).
    db = await aiosqlite.connect(path, isolation_level="IMMEDIATE", check_same_thread=False)
    for pragma in _PRAGMAS:
        await db.execute(f"PRAGMA {pragma}")
    return db


def _connect_plain(path: str) -> sqlite3.Connection:
    """A connection for a thread of the store's own (the writer's, the checkpointer's)."""
    db = sqlite3.connect(path, isolation_level="IMMEDIATE", check_same_thread=False)
    for pragma in _PRAGMAS:
        db.execute(f"PRAGMA {pragma}")
    return db


def _write_batch(conn: sqlite3.Connection, rows: list[tuple[int, int, bytearray, bytearray]],
                 snaps: list[tuple[int, int, bytearray]]) -> None:  # fmt: skip
    """One group commit, whole."""
    try:
        conn.executemany("INSERT INTO events (lot, seq, body, digest) VALUES (?, ?, ?, ?)", rows)
        if snaps:
            conn.executemany("INSERT OR REPLACE INTO snapshots (lot, seq, body) VALUES (?, ?, ?)", snaps)
        conn.commit()
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise


_WRITE_LIMIT = 4096
"""How many events a transaction holding a ``write`` call's batch may have (as the journal's
default ``max_batch``)."""


class _Written:
    """A ``write`` call's batch: settled by resolving the future ``write`` awaits."""

    __slots__ = ("events", "snapshots", "future")
    limit = _WRITE_LIMIT

    def __init__(self, events: Sequence[AnyEvent], snapshots: Sequence[LotState]) -> None:
        self.events = list(events)
        self.snapshots = {s.id: s for s in snapshots}
        self.future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def settle(self, error: BaseException | None) -> None:
        if self.future.done():
            return  # the caller went away
        if error is None:
            self.future.set_result(None)
        else:
            self.future.set_exception(error if isinstance(error, StoreError) else StoreError(str(error)))


class _Chain:
    """The ``hall_chain`` window function of migration 10: over a lot's stored events in seq
    order, the digest after each (``hall.record.link`` of the previous one and the event)."""

    def __init__(self) -> None:
        self.digest = GENESIS

    def step(self, body: bytes) -> None:
        self.digest = link(self.digest, decode(body))

    def inverse(self, body: bytes) -> None:
        raise NotImplementedError("a chain's frame only grows")  # never asked: the frame starts unbounded

    def value(self) -> bytes:
        return self.digest

    def finalize(self) -> bytes:
        return self.digest


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._log: sqlite3.Connection | None = None
        """The writer thread's connection: the journal's events are committed on it."""
        self._thread = Writer(lambda batches: self._commit(batches))  # looked up each time: tests replace it
        self._checkpointer: Checkpointer | None = None
        self._lock = asyncio.Lock()
        """One ``transaction`` at a time (each then takes a turn of the writer thread)."""
        self._heads: dict[int, bytes] = {}
        """Per lot, the digest after its last durable event, as far as this store has learnt
        it: set by each commit, read from the last stored event the first time a lot is
        written (``_tips``), forgotten when a commit with its events fails. The writer thread's
        (``create_lot`` sets a new lot's during a turn, while that thread is parked)."""

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        memory = self.path == ":memory:"
        with _errors():
            self._writer = await _connect(self.path)
            await self._migrate(self._writer)
            # An in-memory database exists once per connection: there the writer also reads,
            # and the writer thread commits on its connection (turns keep the two apart).
            self._reader = self._writer if memory else await _connect(self.path)
            self._log = self._writer._conn if memory else _connect_plain(self.path)
        self._thread.start(asyncio.get_running_loop())
        if not memory:
            self._checkpointer = Checkpointer(functools.partial(_connect_plain, self.path))
            self._checkpointer.start()

    async def close(self) -> None:
        # What was handed over is committed first (the thread's commits block, so not on the loop).
        await asyncio.to_thread(self._thread.stop)
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
            self._checkpointer = None
        if self._log is not None and self._writer is not None and self._log is not self._writer._conn:
            self._log.close()
        self._log = None
        for db in {id(db): db for db in (self._reader, self._writer) if db is not None}.values():
            await db.close()
        self._reader = self._writer = None

    @property
    def writer(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise StoreError("store is not open")
        return self._writer

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreError("store is not open")
        return self._reader

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        async with db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = row[0] if row else 0
        if version >= len(MIGRATIONS):
            return
        # SQLite's procedure for changing a table's shape: foreign keys off (a pragma that is a
        # no-op inside a transaction, hence here), rebuild, then check them all before COMMIT.
        await db.execute("PRAGMA foreign_keys=OFF")
        # aiosqlite has no call for it: registered on the database thread, like ``write``'s batch.
        await db._execute(db._conn.create_window_function, "hall_chain", 1, _Chain)  # type: ignore[no-untyped-call]
        try:
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                try:
                    await db.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};")
                    async with db.execute("PRAGMA foreign_key_check") as cur:
                        broken = await cur.fetchone()
                    if broken is not None:
                        raise StoreError(f"migration {number} breaks a foreign key: {tuple(broken)}")
                except BaseException:
                    await db.rollback()
                    raise
                await db.commit()
        finally:
            await db.execute("PRAGMA foreign_keys=ON")

    # ------------------------------------------------------------------ writes

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction on the writer, whole: committed on exit, rolled back on error.

        Every write outside the journal goes through here, so that no two interleave.
        """
        async with self._lock, self._thread.turn():
            with _errors():
                db = self.writer
                await db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    await db.rollback()
                    raise
                await db.commit()

    async def fetchone(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Row | None:
        with _errors():
            async with self.reader.execute(sql, params) as cur:
                return await cur.fetchone()

    async def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with _errors():
            async with self.reader.execute(sql, params) as cur:
                return list(await cur.fetchall())

    async def create_lot(self, spec: LotSpec, title: str, session: str = "", details: LotDetails | None = None) -> int:
        async with self.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO lots (spec, title, session, details, created_at) VALUES (?, ?, ?, ?, ?)",
                (_encoder.encode(spec), title, session, _encoder.encode(details or LotDetails()),
                 int(time.time() * 1000)),
            )
            lot_id = cursor.lastrowid
            assert lot_id is not None
            self._heads[lot_id] = GENESIS  # still in the turn: the writer thread is parked
        return lot_id

    async def add_bidder(self, lot: int, user: int, org: int | None) -> Registrant:
        async with self.transaction() as db:
            async with db.execute("SELECT number, org FROM bidders WHERE lot = ? AND user = ?", (lot, user)) as cur:
                found = await cur.fetchone()
            if found is not None:
                return Registrant(found[0], found[1])
            async with db.execute("SELECT count(*) FROM bidders WHERE lot = ?", (lot,)) as cur:
                count = await cur.fetchone()
            assert count is not None
            registrant = Registrant(f"{count[0] + 1:04d}", org)
            await db.execute(
                "INSERT INTO bidders (lot, user, number, org) VALUES (?, ?, ?, ?)",
                (lot, user, registrant.number, org),
            )
        return registrant

    async def add_bidders(self, admissions: Sequence[tuple[int, int, int | None]]) -> list[Registrant]:
        # Numbers follow add_bidder's rule (the lot's count of bidders plus one), counted here
        # instead of by a query per admission.
        found: dict[int, dict[int, Registrant]] = {}
        registrants: list[Registrant] = []
        rows: list[tuple[int, int, str, int | None]] = []
        async with self.transaction() as db:
            for lot, user, org in admissions:
                known = found.get(lot)
                if known is None:
                    async with db.execute("SELECT user, number, org FROM bidders WHERE lot = ?", (lot,)) as cur:
                        known = found[lot] = {u: Registrant(n, o) for u, n, o in await cur.fetchall()}
                registrant = known.get(user)
                if registrant is None:
                    registrant = known[user] = Registrant(f"{len(known) + 1:04d}", org)
                    rows.append((lot, user, registrant.number, org))
                registrants.append(registrant)
            await db.executemany("INSERT INTO bidders (lot, user, number, org) VALUES (?, ?, ?, ?)", rows)
        return registrants

    async def write(self, events: Sequence[AnyEvent], snapshots: Sequence[LotState]) -> None:
        """One batch through the writer thread, as the journal's (``hand_over``), awaited."""
        batch = _Written(events, snapshots)
        self.hand_over(batch)
        await batch.future

    def hand_over(self, batch: Batch) -> None:
        self._thread.hand_over(batch)

    def _commit(self, batches: Sequence[Batch]) -> None:
        """On the writer thread: the batches in one transaction, each event stored with the
        digest after it (hall/record.py), chained from the lot's previous digest, which is kept
        in memory and not read on this path (except the first time a lot is written, or after
        a failed commit: ``_tips``)."""
        conn = self._log
        if conn is None:
            raise StoreError("store is not open")
        events, snapshots = merged(batches)
        with _errors():
            tips = self._tips(conn, {e.lot for e in events})
            # Blobs go to sqlite3 as bytearrays: it binds int, float, str and bytearray as they
            # are, but sends any other value (bytes too) through its adapter protocol first,
            # whose failed ``__adapt__`` look-up raises and clears an AttributeError each time:
            # about 0.3 µs a value, two a row, against 0.06 µs for the copy.
            rows = [(e.lot, e.seq, bytearray(encode(e)), bytearray(digest))
                    for e, digest in zip(events, links(tips, events), strict=True)]  # fmt: skip
            snaps = [(s.id, s.seq, bytearray(_encoder.encode(s))) for s in snapshots.values()]
            try:
                _write_batch(conn, rows, snaps)
            except BaseException:
                # Nothing was written, as far as SQLite says; whatever the store holds, these
                # lots' digests are read from it again before their next events are chained.
                for lot in tips:
                    self._heads.pop(lot, None)
                raise
            self._heads.update(tips)
        if self._checkpointer is not None:
            self._checkpointer.wrote(len(rows) + len(snaps))

    def _tips(self, conn: sqlite3.Connection, lots: set[int]) -> dict[int, bytes]:
        """The digest after the last durable event of each of ``lots``: from memory, or (the
        first time a lot is written since the store opened, or after a failed commit) from its
        last stored event, one query for all the lots not in memory."""
        heads = self._heads
        unknown = [lot for lot in lots if lot not in heads]
        if unknown:
            for lot, digest in conn.execute(_LAST_DIGESTS, (msgspec.json.encode(unknown).decode(),)):
                heads[lot] = GENESIS if digest is None else digest
        return {lot: heads[lot] for lot in lots}

    # ------------------------------------------------------------------ reads

    async def lots(self) -> AsyncIterator[StoredLot]:
        """Every lot in id order, as recovery needs it (``_read``).

        Meanwhile the reader maps the database into memory: start reads pages all over a big
        store, once each and in no order, and a mapped page costs no read() and copy (about a
        third of SQLite's time in a start replaying a million events). Only meanwhile: a read
        error in a mapped page kills the process instead of failing a read, which at start
        changes nothing (it cannot go on either) but later would (a 503, or a retry).
        """
        db = self.reader
        with _errors():
            heads = list(await db.execute_fetchall(f"{_HEADS} ORDER BY id"))
            bidders = _bidders(await db.execute_fetchall(f"{_BIDDERS} ORDER BY lot, user"))
            await db.execute(f"PRAGMA mmap_size={_RECOVERY_MMAP}")
        try:
            async with contextlib.aclosing(self._read(heads, bidders)) as found:
                async for stored in found:
                    yield stored
        finally:
            with _errors():
                await db.execute("PRAGMA mmap_size=0")

    async def lot(self, lot: int) -> StoredLot | None:
        """One lot as ``lots`` gives it (a lot whose commit failed is reloaded with this)."""
        db = self.reader
        with _errors():
            heads = list(await db.execute_fetchall(f"{_HEADS} WHERE id = ?", (lot,)))
            bidders = _bidders(await db.execute_fetchall(f"{_BIDDERS} WHERE lot = ? ORDER BY user", (lot,)))
        async with contextlib.aclosing(self._read(heads, bidders)) as found:
            async for stored in found:
                return stored
        return None

    async def _read(
        self, heads: Sequence[sqlite3.Row], bidders: dict[int, list[tuple[int, Registrant]]]
    ) -> AsyncGenerator[StoredLot, None]:
        """The lots of ``heads`` (rows of ``_HEADS`` in id order) with their newest snapshots
        and the events after them, read ``_LOTS_PER_READ`` lots at a time.

        Start used to read lot after lot, four queries each, and decode event after event;
        with many lots it waited mostly on round trips to the database thread. Here the next
        lots' snapshots and events are handed to the database thread before the lots already
        read are decoded and replayed, so that the two overlap; each comes as one row (see
        ``_TAILS``). The queries are not one transaction, as the queries per lot were not:
        nothing writes a lot while it is read (at start the journal has not started; a lot
        is reloaded only while it is halted).
        """
        db = self.reader
        chunks = [heads[i : i + _LOTS_PER_READ] for i in range(0, len(heads), _LOTS_PER_READ)]

        def read(chunk: Sequence[sqlite3.Row]) -> list[asyncio.Future[Iterable[sqlite3.Row]]]:
            span = (chunk[0][0], chunk[-1][0])
            return [asyncio.ensure_future(db.execute_fetchall(sql, span)) for sql in (_SNAPSHOTS, _TAILS)]

        inflight = read(chunks[0]) if chunks else []
        try:
            for k, chunk in enumerate(chunks):
                with _errors():
                    snapshots, tails = [list(await future) for future in inflight]
                inflight = []
                if k + 1 < len(chunks):
                    inflight = read(chunks[k + 1])
                    await asyncio.sleep(0)  # the reads reach the database thread before this one gets busy
                states = {state.id: state for state in _decode_all(_states_decoder, snapshots)}
                events = _by_lot(_decode_all(_events_decoder, tails))
                for head in chunk:
                    lot = head[0]
                    yield _stored(head, states.get(lot), events.get(lot, []), bidders.get(lot, []))
        finally:
            for future in inflight:  # let reads in flight end (before the store may close), quietly
                with contextlib.suppress(Exception):
                    await future

    async def events_since(self, lot: int, seq: int, limit: int = -1) -> list[AnyEvent]:
        async with self.reader.execute(
            "SELECT body FROM events WHERE lot = ? AND seq > ? ORDER BY seq LIMIT ?", (lot, seq, limit)
        ) as cur:
            return [decode(row[0]) for row in await cur.fetchall()]

    async def events_at(self, keys: Sequence[tuple[int, int]]) -> list[AnyEvent]:
        """Point look-ups on the (lot, seq) index, ``_EVENTS_AT`` pairs a query."""
        found: list[AnyEvent] = []
        with _errors():
            for start in range(0, len(keys), _EVENTS_AT):
                chunk = keys[start : start + _EVENTS_AT]
                values = ", ".join("(?, ?)" for _ in chunk)
                rows = await self.reader.execute_fetchall(
                    f"SELECT body FROM events WHERE (lot, seq) IN (VALUES {values})", [n for key in chunk for n in key]
                )
                found.extend(decode(bytes(row[0])) for row in rows)
        return found

    async def chain(self, lot: int, seq: int, limit: int = -1) -> list[tuple[int, bytes, bytes]]:
        with _errors():
            async with self.reader.execute(
                "SELECT seq, body, digest FROM events WHERE lot = ? AND seq >= ? ORDER BY seq LIMIT ?",
                (lot, seq, limit),
            ) as cur:
                return [(row[0], row[1], row[2]) for row in await cur.fetchall()]

    async def head(self, lot: int) -> tuple[int, bytes]:
        with _errors():
            async with self.reader.execute(
                "SELECT seq, digest FROM events WHERE lot = ? ORDER BY seq DESC LIMIT 1", (lot,)
            ) as cur:
                row = await cur.fetchone()
        return (0, GENESIS) if row is None else (row[0], row[1])


_HEADS = "SELECT id, spec, title, session, details FROM lots"
_LAST_DIGESTS = """
    SELECT j.value, (SELECT digest FROM events WHERE lot = j.value ORDER BY seq DESC LIMIT 1)
    FROM json_each(?) AS j
"""
"""Each lot of a JSON array of ids with the digest of its last stored event (NULL: none yet),
one seek of the (lot, seq) index each."""
_BIDDERS = "SELECT lot, user, number, org FROM bidders"
_SNAPSHOTS = "SELECT count(*), CAST(group_concat(body, x'') AS BLOB) FROM snapshots WHERE lot BETWEEN ? AND ?"
_TAILS = """
    SELECT count(*), CAST(group_concat(e.body, x'') AS BLOB)
    FROM lots AS l
    LEFT JOIN snapshots AS s ON s.lot = l.id
    JOIN events AS e ON e.lot = l.id AND e.seq > coalesce(s.seq, 0)
    WHERE l.id BETWEEN ? AND ?
"""
"""The events after their snapshots of the lots in a span of ids, as ONE row: how many, and
their msgpack bodies end to end, which is a msgpack array once its header is put in front
(``_SNAPSHOTS`` does the same with the snapshots).

Why one row: SQLite lets go of the GIL while it computes a row, but Python takes it back for
every row handed over, and while the event loop's thread holds it (replaying) the database
thread waits up to the switch interval (5 ms) for it each time. With a row per event (or
per lot, or per bidder) the reads crawled while the replay ran; with one row per span they
overlap, and the bodies are decoded in one call instead of one call each.

Each lot's events are one range of the (lot, seq) index, so start reads nothing of the
history before the snapshots, however long it is. SQLite 3.40 takes no ORDER BY inside
``group_concat``, so ``_by_lot`` sorts each lot's events by seq (one pass when, as the plan
visits them, they are in order already). Blob to text to blob leaves the bytes as they were
in a UTF-8 database, which is what this store creates.
"""
_LOTS_PER_READ = 64
_EVENTS_AT = 400
"""(lot, seq) pairs one ``events_at`` query looks up: two parameters each, well under SQLite's limit."""
_RECOVERY_MMAP = 1 << 31
"""Bytes of the database the reader maps while ``lots`` runs (SQLite caps it, at 2 GiB here)."""
_ARRAY32 = b"\xdd"
"""msgpack's header of an array of up to 2**32 - 1 items (the count follows, big-endian)."""
_events_decoder = msgspec.msgpack.Decoder(list[AnyEvent])
_states_decoder = msgspec.msgpack.Decoder(list[LotState])
_lot_of = operator.attrgetter("lot")
_seq_of = operator.attrgetter("seq")


def _decode_all(decoder: msgspec.msgpack.Decoder[list[T]], rows: Sequence[sqlite3.Row]) -> list[T]:
    """The items of a (count, bodies end to end) row, decoded in one call."""
    ((count, bodies),) = rows
    return decoder.decode(_ARRAY32 + count.to_bytes(4, "big") + bodies) if count else []


def _by_lot(events: list[AnyEvent]) -> dict[int, list[AnyEvent]]:
    """Events by lot, each lot's in seq order."""
    found: dict[int, list[AnyEvent]] = {}
    for lot, group in itertools.groupby(events, _lot_of):
        found.setdefault(lot, []).extend(group)
    for lot_events in found.values():
        lot_events.sort(key=_seq_of)
    return found


def _bidders(rows: Iterable[sqlite3.Row]) -> dict[int, list[tuple[int, Registrant]]]:
    found: dict[int, list[tuple[int, Registrant]]] = {}
    for lot, user, number, org in rows:
        found.setdefault(lot, []).append((user, Registrant(number, org)))
    return found


def _stored(
    head: sqlite3.Row, snapshot: LotState | None, events: list[AnyEvent], bidders: list[tuple[int, Registrant]]
) -> StoredLot:
    lot_id, spec, title, session, details = head
    return StoredLot(
        id=lot_id, spec=_spec_decoder.decode(spec), title=title, session=session,
        details=_details_decoder.decode(details) if details is not None else LotDetails(),
        snapshot=snapshot, events=events, bidders=bidders,
    )  # fmt: skip
