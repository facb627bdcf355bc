#include "eventstore/postgres/schema.h"

#include <spdlog/spdlog.h>

#include "eventstore/postgres/pq.h"
#include "eventstore/postgres/store_errors.h"

namespace orderflow::eventstore::postgres {
namespace {

// Version 1: the log, its neighbours, the order read model and the append function.
//
// The two time conversions are exact (whole seconds and milliseconds, no floating point). They
// are declared STABLE, as the timestamptz arithmetic and extract() in them are (PostgreSQL inlines
// a SQL function only when its body is no more volatile than the function says).
//
// Text keys use the "C" collation: byte order, the same answer on every server whatever its
// locale, and cheaper comparisons.
//
// append_group takes a whole group of appends as parallel arrays (one element per append in a_*
// and o_*, one per event in e_*, one per report sum addition in r_*; e_append and r_append say
// which append each belongs to) and returns one row per append, in order: out_outcome 0 appended,
// 1 version conflict (out_version is the stream's version), 2 idempotency key already stored
// (out_stored is its record), 3 an event id already stored. How it keeps one log order with no gap:
//   1. It first locks the single log_head row (FOR UPDATE) and holds the lock to its commit.
//      Every append transaction does this, so they run one after the other: positions are
//      handed out in commit order, a reader never sees n+1 committed while n is still open,
//      and a rollback gives its positions back (log_head's update rolls back with it).
//   2. It decides every append in a statement that starts after the lock is granted. In READ
//      COMMITTED each statement of a volatile PL/pgSQL function takes a new snapshot, so that
//      statement sees every append committed before ours (the previous lock holder committed
//      before releasing the lock). A rejected append writes nothing and takes no position.
//   3. Then it writes: events (positions contiguous after the head), stream heads, idempotency
//      records, the order read model rows, and log_head; then NOTIFYs the new head. The caller's
//      one statement is one transaction: all of the group or nothing.
// Variable-length arrays are only ever read with unnest (a subscript on one walks it from the
// start); subscripts are used on the fixed-width decision arrays only.
constexpr const char* kVersion1 = R"sql(
CREATE FUNCTION ms_to_timestamptz(ms bigint) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
RETURN timestamptz 'epoch' + (ms / 1000) * interval '1 second' + (ms % 1000) * interval '1 millisecond';

CREATE FUNCTION timestamptz_to_ms(t timestamptz) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (extract(epoch FROM t) * 1000)::bigint;

CREATE TABLE log_head (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  position bigint NOT NULL CHECK (position >= 0)
);
INSERT INTO log_head (id, position) VALUES (true, 0);

CREATE TABLE events (
  position bigint PRIMARY KEY CHECK (position > 0),
  stream_id text COLLATE "C" NOT NULL,
  stream_version bigint NOT NULL CHECK (stream_version > 0),
  event_id text COLLATE "C" NOT NULL UNIQUE,
  type text NOT NULL,
  schema_version integer NOT NULL,
  payload text NOT NULL,
  occurred_at timestamptz NOT NULL,
  correlation_id text NOT NULL,
  causation_id text NOT NULL,
  actor text NOT NULL,
  idempotency_key text,
  routing_key text,
  message_body text,
  UNIQUE (stream_id, stream_version)
);

CREATE TABLE streams (
  stream_id text COLLATE "C" PRIMARY KEY,
  version bigint NOT NULL CHECK (version > 0)
);

CREATE TABLE idempotency (
  key text COLLATE "C" PRIMARY KEY,
  value text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX idempotency_by_expiry ON idempotency (expires_at);

CREATE TABLE checkpoints (
  name text COLLATE "C" PRIMARY KEY,
  position bigint NOT NULL CHECK (position >= 0)
);

-- The fence of each checkpoint lease (app/ports/checkpoint_lease.h): bumped by every instance that
-- takes the lease (under a session advisory lock), checked by every fenced checkpoint write.
CREATE TABLE leases (
  name text COLLATE "C" PRIMARY KEY,
  fence bigint NOT NULL CHECK (fence > 0)
);

CREATE TABLE release_records (
  id text COLLATE "C" PRIMARY KEY,
  record text NOT NULL
);

CREATE TABLE orders (
  id uuid PRIMARY KEY,
  customer_id uuid NOT NULL,
  status text NOT NULL CHECK (status IN ('created', 'processing', 'shipped', 'delivered', 'canceled')),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  total_minor bigint NOT NULL,
  version bigint NOT NULL,
  document jsonb NOT NULL,
  client_json text NOT NULL
);
-- The list queries: every one orders by (created_at, id) after its equality filters.
CREATE INDEX orders_by_created ON orders (created_at, id);
CREATE INDEX orders_by_status ON orders (status, created_at, id);
CREATE INDEX orders_by_customer ON orders (customer_id, created_at, id);
CREATE INDEX orders_by_customer_status ON orders (customer_id, status, created_at, id);

-- The reports read model (app/ports/order_reports.h): two sums per UTC day and kind, added to by
-- each append (projections/order_report.h says what a change adds).
CREATE TABLE report_sums (
  day integer NOT NULL,
  kind smallint NOT NULL CHECK (kind BETWEEN 0 AND 4),
  a bigint NOT NULL,
  b bigint NOT NULL,
  PRIMARY KEY (day, kind)
);

CREATE FUNCTION append_group(
    a_stream text[], a_expected_kind integer[], a_expected bigint[], a_events integer[],
    a_key text[], a_value text[], a_expires_ms bigint[],
    o_op integer[], o_id text[], o_customer text[], o_status text[], o_created_ms bigint[],
    o_updated_ms bigint[], o_total_minor bigint[], o_version bigint[], o_json text[],
    e_append integer[], e_id text[], e_type text[], e_schema integer[], e_payload text[],
    e_occurred_ms bigint[], e_correlation text[], e_causation text[], e_actor text[], e_key text[],
    e_routing text[], e_body text[],
    r_append integer[], r_day integer[], r_kind integer[], r_a bigint[], r_b bigint[])
RETURNS TABLE (out_outcome integer, out_version bigint, out_first bigint, out_last bigint, out_stored text)
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $fn$
DECLARE
  v_head bigint;
  v_new_head bigint;
  v_duplicates integer[];
  r_outcome integer[];
  r_version bigint[];
  r_first bigint[];
  r_last bigint[];
  r_offset bigint[];
  r_stored text[];
BEGIN
  -- 1. The serialisation point.
  SELECT h.position INTO v_head FROM log_head h WHERE h.id FOR UPDATE;

  -- 2. Decide, on a snapshot taken after the lock.
  SELECT coalesce(array_agg(DISTINCT e.n), '{}')
    INTO v_duplicates
    FROM unnest(e_append, e_id) AS e(n, event_id)
    JOIN events x ON x.event_id = e.event_id;

  WITH a AS (
    SELECT t.n, t.kind, t.expected, t.events,
           coalesce(s.version, 0) AS current_version,
           i.value AS stored,
           sum(t.events) OVER (ORDER BY t.n) - t.events AS event_offset
      FROM unnest(a_stream, a_expected_kind, a_expected, a_events, a_key)
           WITH ORDINALITY AS t(stream, kind, expected, events, key, n)
      LEFT JOIN streams s ON s.stream_id = t.stream
      LEFT JOIN idempotency i ON i.key = t.key
  ), d AS (
    SELECT a.*,
           CASE WHEN a.stored IS NOT NULL THEN 2
                WHEN NOT (a.kind = 0 OR (a.kind = 1 AND a.current_version = 0)
                          OR (a.kind = 2 AND a.current_version = a.expected)) THEN 1
                WHEN a.n = ANY (v_duplicates) THEN 3
                ELSE 0 END AS outcome
      FROM a
  ), p AS (
    SELECT d.*, sum(CASE WHEN d.outcome = 0 THEN d.events ELSE 0 END) OVER (ORDER BY d.n) AS accepted_through
      FROM d
  )
  SELECT array_agg(p.outcome ORDER BY p.n),
         array_agg(CASE WHEN p.outcome = 0 THEN p.current_version + p.events ELSE p.current_version END ORDER BY p.n),
         array_agg(CASE WHEN p.outcome = 0 AND p.events > 0 THEN v_head + p.accepted_through - p.events + 1 ELSE 0 END
                   ORDER BY p.n),
         array_agg(CASE WHEN p.outcome = 0 AND p.events > 0 THEN v_head + p.accepted_through ELSE 0 END ORDER BY p.n),
         array_agg(p.event_offset ORDER BY p.n),
         array_agg(p.stored ORDER BY p.n),
         v_head + coalesce(max(p.accepted_through), 0)
    INTO r_outcome, r_version, r_first, r_last, r_offset, r_stored, v_new_head
    FROM p;

  -- 3. Write what was accepted.
  INSERT INTO events (position, stream_id, stream_version, event_id, type, schema_version, payload,
                      occurred_at, correlation_id, causation_id, actor, idempotency_key, routing_key,
                      message_body)
  SELECT r_first[e.n] + (e.j - 1 - r_offset[e.n]),
         s.stream,
         r_version[e.n] - a_events[e.n] + (e.j - r_offset[e.n]),
         e.event_id, e.type, e.schema, e.payload, ms_to_timestamptz(e.occurred_ms), e.correlation,
         e.causation, e.actor, e.key, e.routing, e.body
    FROM unnest(e_append, e_id, e_type, e_schema, e_payload, e_occurred_ms, e_correlation, e_causation,
                e_actor, e_key, e_routing, e_body)
         WITH ORDINALITY AS e(n, event_id, type, schema, payload, occurred_ms, correlation, causation,
                              actor, key, routing, body, j)
    JOIN unnest(a_stream) WITH ORDINALITY AS s(stream, n) ON s.n = e.n
   WHERE r_outcome[e.n] = 0
   ORDER BY e.j;

  INSERT INTO streams (stream_id, version)
  SELECT s.stream, r_version[s.n]
    FROM unnest(a_stream) WITH ORDINALITY AS s(stream, n)
   WHERE r_outcome[s.n] = 0 AND a_events[s.n] > 0
  ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version;

  INSERT INTO idempotency (key, value, expires_at)
  SELECT k.key, k.value, ms_to_timestamptz(k.expires_ms)
    FROM unnest(a_key, a_value, a_expires_ms) WITH ORDINALITY AS k(key, value, expires_ms, n)
   WHERE r_outcome[k.n] = 0 AND k.key IS NOT NULL;

  INSERT INTO orders (id, customer_id, status, created_at, updated_at, total_minor, version, document,
                      client_json)
  SELECT o.id::uuid, o.customer::uuid, o.status, ms_to_timestamptz(o.created_ms),
         ms_to_timestamptz(o.updated_ms), o.total_minor, o.version, o.json::jsonb, o.json
    FROM unnest(o_op, o_id, o_customer, o_status, o_created_ms, o_updated_ms, o_total_minor, o_version, o_json)
         WITH ORDINALITY AS o(op, id, customer, status, created_ms, updated_ms, total_minor, version, json, n)
   WHERE r_outcome[o.n] = 0 AND o.op = 1
  ON CONFLICT (id) DO UPDATE
    SET customer_id = EXCLUDED.customer_id, status = EXCLUDED.status, created_at = EXCLUDED.created_at,
        updated_at = EXCLUDED.updated_at, total_minor = EXCLUDED.total_minor, version = EXCLUDED.version,
        document = EXCLUDED.document, client_json = EXCLUDED.client_json;

  DELETE FROM orders
   WHERE id IN (SELECT o.id::uuid
                  FROM unnest(o_op, o_id) WITH ORDINALITY AS o(op, id, n)
                 WHERE r_outcome[o.n] = 0 AND o.op = 2);

  -- Report sums: the additions of the accepted appends, summed per cell first (one row can be
  -- updated once per statement), then added to what is stored.
  INSERT INTO report_sums (day, kind, a, b)
  SELECT c.day, c.kind, sum(c.a)::bigint, sum(c.b)::bigint
    FROM unnest(r_append, r_day, r_kind, r_a, r_b) AS c(n, day, kind, a, b)
   WHERE r_outcome[c.n] = 0
   GROUP BY c.day, c.kind
  ON CONFLICT (day, kind) DO UPDATE SET a = report_sums.a + EXCLUDED.a, b = report_sums.b + EXCLUDED.b;

  IF v_new_head > v_head THEN
    UPDATE log_head SET position = v_new_head WHERE id;
    PERFORM pg_notify('orderflow_log', v_new_head::text);
  END IF;

  RETURN QUERY
  SELECT r.outcome, r.version, r.first, r.last, r.stored
    FROM unnest(r_outcome, r_version, r_first, r_last, r_stored) WITH ORDINALITY AS r(outcome, version, first, last, stored, n)
   ORDER BY r.n;
END
$fn$;
)sql";

// Version 2: append_group holds the log_head lock for less of its transaction. Version 1 took it
// first, so every append transaction of every instance ran one after the other from its first
// statement to its commit; three instances were slower than one (BENCHMARKS.md). Now:
//   1. Claim, without the log_head lock, in one order every transaction follows (so two wait for
//      each other in a cycle only in a rare race of three on new streams, which PostgreSQL breaks
//      with 40P01 and the committer runs again): the idempotency keys (INSERT ... ON CONFLICT DO
//      NOTHING, in key order: a key another open transaction is storing is waited for; a key not
//      claimed is stored: outcome 2), then the streams' head rows (existing rows locked FOR UPDATE in stream
//      order; a stream the append would create is inserted, ON CONFLICT DO NOTHING, and one that
//      another transaction created meanwhile is locked and read like an existing one).
//   2. Decide every append against the heads read under those row locks (no other transaction can
//      move them until this one ends), and event ids against the stored events. Write what needs
//      no position: stream heads, the order read model rows; drop the keys of rejected appends.
//   3. Take the log_head lock (FOR UPDATE, held to the commit), then write the events at positions
//      after the head, the report sums, and the head; NOTIFY. Positions are still handed out in
//      commit order, so the log's order and its no-gap promise are version 1's; what runs side by
//      side is steps 1 and 2, which are most of an append's work (the orders row and its indexes).
// orderflow-replay's rebuild locks the orders table (SHARE ROW EXCLUSIVE) before log_head, so it
// waits for appends past step 2 and holds back the others before they write a row.
constexpr const char* kVersion2 = R"sql(
CREATE OR REPLACE FUNCTION append_group(
    a_stream text[], a_expected_kind integer[], a_expected bigint[], a_events integer[],
    a_key text[], a_value text[], a_expires_ms bigint[],
    o_op integer[], o_id text[], o_customer text[], o_status text[], o_created_ms bigint[],
    o_updated_ms bigint[], o_total_minor bigint[], o_version bigint[], o_json text[],
    e_append integer[], e_id text[], e_type text[], e_schema integer[], e_payload text[],
    e_occurred_ms bigint[], e_correlation text[], e_causation text[], e_actor text[], e_key text[],
    e_routing text[], e_body text[],
    r_append integer[], r_day integer[], r_kind integer[], r_a bigint[], r_b bigint[])
RETURNS TABLE (out_outcome integer, out_version bigint, out_first bigint, out_last bigint, out_stored text)
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
SET enable_seqscan = off
AS $fn$
DECLARE
  v_claimed text[];
  v_created text[];
  v_locked text[];
  v_also_locked text[];
  v_duplicates integer[];
  v_head bigint;
  v_accepted bigint;
  r_outcome integer[];
  r_version bigint[];
  r_through bigint[];
  r_offset bigint[];
  r_stored text[];
BEGIN
  -- 1. Claim the idempotency keys, in key order.
  WITH c AS (
    INSERT INTO idempotency (key, value, expires_at)
    SELECT k.key, k.value, ms_to_timestamptz(k.expires_ms)
      FROM unnest(a_key, a_value, a_expires_ms) AS k(key, value, expires_ms)
     WHERE k.key IS NOT NULL
     ORDER BY k.key
    ON CONFLICT (key) DO NOTHING
    RETURNING key)
  SELECT coalesce(array_agg(c.key), '{}') INTO v_claimed FROM c;

  -- Then the streams' heads, in stream order: lock the existing ones, create the missing ones an
  -- append could start (it has events, its key is not stored, and its expectation allows a new
  -- stream), and lock those another transaction created meanwhile.
  SELECT coalesce(array_agg(l.stream_id), '{}') INTO v_locked
    FROM (SELECT s.stream_id FROM unnest(a_stream) AS t(stream) JOIN streams s ON s.stream_id = t.stream
           ORDER BY s.stream_id FOR UPDATE OF s) AS l;
  WITH c AS (
    INSERT INTO streams (stream_id, version)
    SELECT t.stream, t.events
      FROM unnest(a_stream, a_expected_kind, a_expected, a_events, a_key) AS t(stream, kind, expected, events, key)
     WHERE t.events > 0
       AND (t.key IS NULL OR t.key = ANY (v_claimed))
       AND (t.kind IN (0, 1) OR (t.kind = 2 AND t.expected = 0))
       AND NOT EXISTS (SELECT 1 FROM streams s WHERE s.stream_id = t.stream)
     ORDER BY t.stream
    ON CONFLICT (stream_id) DO NOTHING
    RETURNING stream_id)
  SELECT coalesce(array_agg(c.stream_id), '{}') INTO v_created FROM c;
  SELECT coalesce(array_agg(l.stream_id), '{}') INTO v_also_locked
    FROM (SELECT s.stream_id FROM unnest(a_stream) AS t(stream) JOIN streams s ON s.stream_id = t.stream
           WHERE NOT (s.stream_id = ANY (v_created)) AND NOT (s.stream_id = ANY (v_locked))
           ORDER BY s.stream_id FOR UPDATE OF s) AS l;
  v_locked := v_locked || v_also_locked;

  -- 2. Decide, against the heads locked above: a stream this call created was at version 0, and so
  -- is one it found nowhere while it locked (another transaction may have created it since; an
  -- append that expected a version of it is refused, never decided on a head it has not locked).
  SELECT coalesce(array_agg(DISTINCT e.n), '{}')
    INTO v_duplicates
    FROM unnest(e_append, e_id) AS e(n, event_id)
    JOIN events x ON x.event_id = e.event_id;

  WITH a AS (
    SELECT t.n, t.kind, t.expected, t.events,
           CASE WHEN t.stream = ANY (v_locked) THEN coalesce(s.version, 0) ELSE 0 END AS current_version,
           CASE WHEN t.key IS NOT NULL AND NOT (t.key = ANY (v_claimed)) THEN i.value END AS stored,
           sum(t.events) OVER (ORDER BY t.n) - t.events AS event_offset
      FROM unnest(a_stream, a_expected_kind, a_expected, a_events, a_key)
           WITH ORDINALITY AS t(stream, kind, expected, events, key, n)
      LEFT JOIN streams s ON s.stream_id = t.stream
      LEFT JOIN idempotency i ON i.key = t.key
  ), d AS (
    SELECT a.*,
           CASE WHEN a.stored IS NOT NULL THEN 2
                WHEN NOT (a.kind = 0 OR (a.kind = 1 AND a.current_version = 0)
                          OR (a.kind = 2 AND a.current_version = a.expected)) THEN 1
                WHEN a.n = ANY (v_duplicates) THEN 3
                ELSE 0 END AS outcome
      FROM a
  ), p AS (
    SELECT d.*, sum(CASE WHEN d.outcome = 0 THEN d.events ELSE 0 END) OVER (ORDER BY d.n) AS accepted_through
      FROM d
  )
  SELECT array_agg(p.outcome ORDER BY p.n),
         array_agg(CASE WHEN p.outcome = 0 THEN p.current_version + p.events ELSE p.current_version END ORDER BY p.n),
         array_agg(p.accepted_through ORDER BY p.n),
         array_agg(p.event_offset ORDER BY p.n),
         array_agg(p.stored ORDER BY p.n),
         coalesce(max(p.accepted_through), 0)
    INTO r_outcome, r_version, r_through, r_offset, r_stored, v_accepted
    FROM p;

  -- A key this call did not claim was stored; if it is gone now (purged as expired in between), the
  -- append must not go on without its record: the whole call is rolled back and run again
  -- (serialization_failure: the caller retries), and then it claims the key.
  IF EXISTS (SELECT 1 FROM unnest(a_key) WITH ORDINALITY AS k(key, n)
              WHERE k.key IS NOT NULL AND NOT (k.key = ANY (v_claimed)) AND r_stored[k.n] IS NULL) THEN
    RAISE EXCEPTION 'an idempotency key was removed while this append group read it'
      USING ERRCODE = 'serialization_failure';
  END IF;

  -- A stream this call created for an append it then refused (a duplicate event id) goes again.
  DELETE FROM streams
   WHERE stream_id IN (SELECT s.stream FROM unnest(a_stream) WITH ORDINALITY AS s(stream, n)
                        WHERE s.stream = ANY (v_created) AND r_outcome[s.n] <> 0);
  UPDATE streams x SET version = r_version[s.n]
    FROM unnest(a_stream) WITH ORDINALITY AS s(stream, n)
   WHERE x.stream_id = s.stream AND r_outcome[s.n] = 0 AND a_events[s.n] > 0
     AND s.stream = ANY (v_locked);
  DELETE FROM idempotency
   WHERE key IN (SELECT k.key FROM unnest(a_key) WITH ORDINALITY AS k(key, n)
                  WHERE k.key = ANY (v_claimed) AND r_outcome[k.n] <> 0);

  INSERT INTO orders (id, customer_id, status, created_at, updated_at, total_minor, version, document,
                      client_json)
  SELECT o.id::uuid, o.customer::uuid, o.status, ms_to_timestamptz(o.created_ms),
         ms_to_timestamptz(o.updated_ms), o.total_minor, o.version, o.json::jsonb, o.json
    FROM unnest(o_op, o_id, o_customer, o_status, o_created_ms, o_updated_ms, o_total_minor, o_version, o_json)
         WITH ORDINALITY AS o(op, id, customer, status, created_ms, updated_ms, total_minor, version, json, n)
   WHERE r_outcome[o.n] = 0 AND o.op = 1
  ON CONFLICT (id) DO UPDATE
    SET customer_id = EXCLUDED.customer_id, status = EXCLUDED.status, created_at = EXCLUDED.created_at,
        updated_at = EXCLUDED.updated_at, total_minor = EXCLUDED.total_minor, version = EXCLUDED.version,
        document = EXCLUDED.document, client_json = EXCLUDED.client_json;

  DELETE FROM orders
   WHERE id IN (SELECT o.id::uuid
                  FROM unnest(o_op, o_id) WITH ORDINALITY AS o(op, id, n)
                 WHERE r_outcome[o.n] = 0 AND o.op = 2);

  -- 3. The serialisation point: positions in commit order.
  SELECT h.position INTO v_head FROM log_head h WHERE h.id FOR UPDATE;

  INSERT INTO events (position, stream_id, stream_version, event_id, type, schema_version, payload,
                      occurred_at, correlation_id, causation_id, actor, idempotency_key, routing_key,
                      message_body)
  SELECT v_head + r_through[e.n] - a_events[e.n] + (e.j - r_offset[e.n]),
         s.stream,
         r_version[e.n] - a_events[e.n] + (e.j - r_offset[e.n]),
         e.event_id, e.type, e.schema, e.payload, ms_to_timestamptz(e.occurred_ms), e.correlation,
         e.causation, e.actor, e.key, e.routing, e.body
    FROM unnest(e_append, e_id, e_type, e_schema, e_payload, e_occurred_ms, e_correlation, e_causation,
                e_actor, e_key, e_routing, e_body)
         WITH ORDINALITY AS e(n, event_id, type, schema, payload, occurred_ms, correlation, causation,
                              actor, key, routing, body, j)
    JOIN unnest(a_stream) WITH ORDINALITY AS s(stream, n) ON s.n = e.n
   WHERE r_outcome[e.n] = 0
   ORDER BY e.j;

  -- Report sums: the additions of the accepted appends, summed per cell first (one row can be
  -- updated once per statement), then added to what is stored. Under the log_head lock: every
  -- create of a day adds to the same rows.
  INSERT INTO report_sums (day, kind, a, b)
  SELECT c.day, c.kind, sum(c.a)::bigint, sum(c.b)::bigint
    FROM unnest(r_append, r_day, r_kind, r_a, r_b) AS c(n, day, kind, a, b)
   WHERE r_outcome[c.n] = 0
   GROUP BY c.day, c.kind
  ON CONFLICT (day, kind) DO UPDATE SET a = report_sums.a + EXCLUDED.a, b = report_sums.b + EXCLUDED.b;

  IF v_accepted > 0 THEN
    UPDATE log_head SET position = v_head + v_accepted WHERE id;
    PERFORM pg_notify('orderflow_log', (v_head + v_accepted)::text);
  END IF;

  RETURN QUERY
  SELECT r.outcome, r.version,
         CASE WHEN r.outcome = 0 AND a_events[r.n] > 0 THEN v_head + r.through - a_events[r.n] + 1 ELSE 0 END,
         CASE WHEN r.outcome = 0 AND a_events[r.n] > 0 THEN v_head + r.through ELSE 0 END,
         r.stored
    FROM unnest(r_outcome, r_version, r_through, r_stored) WITH ORDINALITY AS r(outcome, version, through, stored, n)
   ORDER BY r.n;
END
$fn$;
)sql";

std::string migration_error(const std::string& what, const PgError& e) {
  return what + ": " + e.message + (e.sqlstate.empty() ? "" : " (SQLSTATE " + e.sqlstate + ")");
}

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all = {
      {1, "events, streams, idempotency, checkpoints, leases, release records, orders, report sums, append_group",
       kVersion1},
      {2, "append_group claims keys and stream heads before the log_head lock", kVersion2},
  };
  return all;
}

int latest_schema_version() {
  return migrations().back().version;
}

Result<int, app::StoreError> migrate(Connection& conn, const MigrateOptions& options) {
  using Code = app::StoreError::Code;
  const std::string schema = conn.quote_identifier(options.schema);
  if (schema.empty())
    return fail(app::StoreError{"invalid schema name '" + options.schema + "'", Code::invalid});
  const auto timeout = options.statement_timeout + options.lock_wait;
  // Session settings for the migration: the lock wait is bounded by lock_timeout, the
  // migrations themselves by statement_timeout.
  auto set =
      conn.exec_script("SET lock_timeout = " + std::to_string(options.lock_wait.count()) +
                           "; SET statement_timeout = " + std::to_string(options.statement_timeout.count()),
                       timeout);
  if (!set) return fail(store_error("migrate: session settings", set.error()));
  auto locked = conn.exec("SELECT pg_advisory_lock($1)", Params().i64(kMigrationLockKey), timeout);
  if (!locked) {
    if (locked.error().sqlstate == "55P03")
      return fail(app::StoreError{"migrate: another instance held the migration lock for longer than " +
                                      std::to_string(options.lock_wait.count()) + " ms",
                                  Code::unavailable});
    return fail(store_error("migrate: take the migration lock", locked.error()));
  }
  struct Unlock {
    Connection& conn;
    std::chrono::milliseconds timeout;
    ~Unlock() {
      auto unlocked = conn.exec("SELECT pg_advisory_unlock($1)", Params().i64(kMigrationLockKey), timeout);
      if (!unlocked) spdlog::warn("postgres: release the migration lock: {}", unlocked.error().message);
    }
  } unlock{conn, timeout};

  auto prepared =
      conn.exec_script("CREATE SCHEMA IF NOT EXISTS " + schema + "; SET search_path TO " + schema +
                           "; CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY "
                           "KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                       timeout);
  if (!prepared)
    return fail(app::StoreError{migration_error("migrate: create the schema " + schema, prepared.error()),
                                store_error("", prepared.error()).code});
  auto current = conn.exec("SELECT coalesce(max(version), 0) FROM schema_migrations", Params(), timeout);
  if (!current) return fail(store_error("migrate: read schema_migrations", current.error()));
  const auto found = current->i64(0, 0);
  if (!found) return fail(app::StoreError{"migrate: unreadable schema version", Code::corrupt});
  const int before = static_cast<int>(*found);
  const int latest = latest_schema_version();
  if (before > latest) {
    return fail(app::StoreError{"the database schema " + options.schema + " is at version " +
                                    std::to_string(before) + ", newer than this binary's " +
                                    std::to_string(latest) +
                                    ": run the orderflow release that wrote it (or a later one)",
                                Code::invalid});
  }
  if (before < latest && !options.apply) {
    return fail(app::StoreError{"the database schema " + options.schema + " is at version " +
                                    std::to_string(before) + ", older than this binary's " +
                                    std::to_string(latest) + ", and migrations are off",
                                Code::invalid});
  }
  for (const Migration& m : migrations()) {
    if (m.version <= before) continue;
    const std::string script = std::string("BEGIN;\n") + m.sql +
                               "\nINSERT INTO schema_migrations (version, name) VALUES (" +
                               std::to_string(m.version) + ", '" + m.name + "');\nCOMMIT;";
    auto applied = conn.exec_script(script, timeout);
    if (!applied) {
      // A script that failed inside BEGIN leaves the session in an aborted transaction.
      (void)conn.exec_script("ROLLBACK", std::chrono::milliseconds(5000));
      return fail(app::StoreError{
          migration_error("migrate: migration " + std::to_string(m.version) + " (" + m.name + ")",
                          applied.error()),
          Code::unavailable});
    }
    spdlog::info("postgres: schema {} migrated to version {} ({})", options.schema, m.version, m.name);
  }
  return before;
}

}  // namespace orderflow::eventstore::postgres
