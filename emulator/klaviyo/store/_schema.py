"""The emulator's tables. Every row but an account's own carries the account id; nothing reads across accounts.

``labels`` names accounts for people (the dashboard): a setting like the rate-limit mode, so a reset keeps it.
"""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY, masked_key TEXT NOT NULL, created REAL NOT NULL, shown_key TEXT);
CREATE TABLE IF NOT EXISTS labels (account TEXT PRIMARY KEY, label TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS profiles (
    account TEXT NOT NULL, id TEXT NOT NULL, email TEXT, phone_number TEXT, external_id TEXT,
    anonymous_id TEXT, kx TEXT, doc TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
    last_event_date REAL, PRIMARY KEY (account, id));
CREATE INDEX IF NOT EXISTS profiles_email ON profiles (account, email);
CREATE INDEX IF NOT EXISTS profiles_phone ON profiles (account, phone_number);
CREATE INDEX IF NOT EXISTS profiles_external ON profiles (account, external_id);
CREATE TABLE IF NOT EXISTS metrics (
    account TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (account, id), UNIQUE (account, name));
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, id TEXT NOT NULL, uuid TEXT NOT NULL,
    metric_id TEXT NOT NULL, profile_id TEXT NOT NULL, timestamp INTEGER NOT NULL, properties TEXT NOT NULL,
    value REAL, value_currency TEXT, unique_id TEXT, dedupe_key TEXT NOT NULL, request_id TEXT,
    received REAL NOT NULL, UNIQUE (account, profile_id, metric_id, dedupe_key));
CREATE INDEX IF NOT EXISTS events_id ON events (account, id);
CREATE INDEX IF NOT EXISTS events_account ON events (account, seq);
CREATE INDEX IF NOT EXISTS events_received ON events (account, received);
CREATE TABLE IF NOT EXISTS jobs (
    account TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL, doc TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (account, id));
CREATE TABLE IF NOT EXISTS lists (
    account TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, opt_in_process TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL, PRIMARY KEY (account, id));
CREATE TABLE IF NOT EXISTS list_members (
    account TEXT NOT NULL, list_id TEXT NOT NULL, profile_id TEXT NOT NULL, joined REAL NOT NULL,
    PRIMARY KEY (account, list_id, profile_id));
CREATE INDEX IF NOT EXISTS list_members_profile ON list_members (account, profile_id);
CREATE TABLE IF NOT EXISTS opt_ins (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, profile_id TEXT NOT NULL,
    channel TEXT NOT NULL, kind TEXT NOT NULL, list_id TEXT, custom_source TEXT, requested REAL NOT NULL,
    request_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS opt_ins_profile ON opt_ins (account, profile_id);
CREATE TABLE IF NOT EXISTS settings (
    account TEXT PRIMARY KEY, opt_in_process TEXT);
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, account TEXT, masked_key TEXT,
    method TEXT NOT NULL, path TEXT NOT NULL, query TEXT NOT NULL, operation TEXT, status INTEGER NOT NULL,
    duration_ms REAL NOT NULL, request_body TEXT, response_body TEXT, errors TEXT, fault TEXT,
    received REAL NOT NULL, headers TEXT);
CREATE INDEX IF NOT EXISTS requests_account ON requests (account, seq);
CREATE INDEX IF NOT EXISTS requests_id ON requests (id);
CREATE INDEX IF NOT EXISTS requests_received ON requests (account, received);
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, request_id TEXT NOT NULL,
    kind TEXT NOT NULL, reason TEXT NOT NULL, subject TEXT, details TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_account ON ledger (account, seq);
CREATE TABLE IF NOT EXISTS observations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, request_id TEXT NOT NULL, idx INTEGER NOT NULL,
    kind TEXT NOT NULL, member TEXT, email TEXT, phone_number TEXT, profile_id TEXT, event_id TEXT,
    outcome TEXT, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS observations_account ON observations (account, seq);
CREATE INDEX IF NOT EXISTS observations_profile ON observations (account, profile_id);
CREATE INDEX IF NOT EXISTS observations_request ON observations (request_id);
"""

#: Columns added since a table was first released: a database file made by an older version gets them on open.
ADDED_COLUMNS = (("requests", "headers", "TEXT"), ("accounts", "shown_key", "TEXT"))

#: Tables that belong to an account, in the order an export lists them.
ACCOUNT_TABLES = (
    "profiles",
    "metrics",
    "events",
    "jobs",
    "lists",
    "list_members",
    "opt_ins",
    "settings",
    "requests",
    "ledger",
    "observations",
)
