/**
 * Migration 3: the hot path without a shared lock. A claim reads only the rows that are ready
 * (a partial index in start order), a queue's limit and pause are a row of that queue, and a
 * dependent carries the count of its dependencies that have not completed, kept by triggers, so
 * that blocked jobs stay out of the claim index and nothing scans them to learn they are blocked.
 *
 * `blocked` counts the dependencies that exist and are not completed; a dependency that is not
 * there (gone with `clean`) counts as completed, as the lifecycle's `waitingFor` has it. It is
 * counted afresh when a row is inserted or comes back to waiting (restart, a revived archived
 * row), with the dependencies locked FOR SHARE so that one completing at that instant is seen;
 * otherwise it moves by the deltas of its dependencies' changes, which a concurrent change
 * applies to the newest version of the row (READ COMMITTED re-evaluates `blocked + delta`).
 */
export const HOT_PATH = `
ALTER TABLE queuectl_jobs ADD COLUMN queue text NOT NULL GENERATED ALWAYS AS (coalesce(doc->>'queue', 'default')) STORED;
ALTER TABLE queuectl_jobs ADD COLUMN blocked integer NOT NULL DEFAULT 0;

DROP INDEX queuectl_jobs_due;
-- What a claim reads: ready rows in start order (higher priority first, then older).
CREATE INDEX queuectl_jobs_claim ON queuectl_jobs (priority DESC, seq) INCLUDE (run_at, queue)
  WHERE state IN ('pending', 'failed') AND blocked = 0 AND NOT archived;
-- The same per queue, for the claims of a queue with a limit.
CREATE INDEX queuectl_jobs_claim_queue ON queuectl_jobs (queue, priority DESC, seq) INCLUDE (run_at)
  WHERE state IN ('pending', 'failed') AND blocked = 0 AND NOT archived;
-- When the next waiting job falls due.
CREATE INDEX queuectl_jobs_waiting ON queuectl_jobs (run_at) WHERE state IN ('pending', 'failed') AND NOT archived;
-- A limited queue's running count, and recovery's expired leases: the processing rows are few.
DROP INDEX queuectl_jobs_leases;
CREATE INDEX queuectl_jobs_running ON queuectl_jobs (queue, lease_until) WHERE state = 'processing';
-- The dependents of a job.
CREATE INDEX queuectl_jobs_after ON queuectl_jobs USING gin ((doc->'after')) WHERE doc ? 'after' AND NOT archived;

-- One row per queue with settings; the row named '*' pauses every queue. Claims in a limited
-- queue lock its row, so that its running count and the claims added to it are one decision.
CREATE TABLE queuectl_queues (
  name text PRIMARY KEY,
  parallel integer,
  paused boolean NOT NULL DEFAULT false
);
INSERT INTO queuectl_queues (name, parallel, paused)
  SELECT q.key, (q.value->>'parallel')::integer, coalesce((q.value->>'paused')::boolean, false)
    FROM queuectl_meta m, jsonb_each(m.value) AS q(key, value)
   WHERE m.key = 'queues' AND jsonb_typeof(m.value) = 'object';

CREATE FUNCTION queuectl_unfinished(after jsonb) RETURNS integer LANGUAGE sql AS $$
  SELECT count(*)::integer FROM (
    SELECT d.state FROM queuectl_jobs d WHERE d.id IN (SELECT jsonb_array_elements_text(after)) FOR SHARE
  ) AS s WHERE s.state <> 'completed'
$$;

-- Generated columns are not computed yet in a BEFORE trigger: the state is read from doc. The
-- WHEN clause keeps the common updates (claims, results) from calling the function at all.
CREATE FUNCTION queuectl_count_blocked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.doc->'after' IS NULL OR jsonb_array_length(NEW.doc->'after') = 0 THEN
    NEW.blocked := 0;
  ELSE
    NEW.blocked := queuectl_unfinished(NEW.doc->'after');
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER queuectl_jobs_blocked BEFORE UPDATE OF doc, archived ON queuectl_jobs FOR EACH ROW
  WHEN (NEW.doc->'after' IS DISTINCT FROM OLD.doc->'after'
        OR (OLD.archived AND NOT NEW.archived)
        OR (OLD.state IN ('completed', 'dead', 'cancelled') AND NEW.doc->>'state' NOT IN ('completed', 'dead', 'cancelled')))
  EXECUTE FUNCTION queuectl_count_blocked();

-- Moves the dependents' counts by how many of their dependencies stopped or started counting
-- as not completed in this statement (one sum per dependent: two of its dependencies may change at once).
CREATE FUNCTION queuectl_move_dependents(changes jsonb, skip bigint[]) RETURNS void LANGUAGE sql AS $$
  UPDATE queuectl_jobs j SET blocked = j.blocked + d.delta
    FROM (SELECT t.seq, sum(c.delta) AS delta
            FROM (SELECT seq, id, doc FROM queuectl_jobs
                   WHERE doc ? 'after' AND NOT archived
                     AND doc->'after' ?| ARRAY(SELECT e->>'id' FROM jsonb_array_elements(changes) AS e)) AS t
            JOIN jsonb_to_recordset(changes) AS c(id text, delta integer) ON t.doc->'after' ? c.id AND t.id <> c.id
           WHERE t.seq <> ALL(skip)
           GROUP BY t.seq) AS d
   WHERE j.seq = d.seq AND d.delta <> 0
$$;

-- Per row, and only for a row that enters or leaves completed: most updates are claims. One
-- probe of the index on after (a plan the function keeps) finds its dependents, if any.
CREATE FUNCTION queuectl_dependents_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE queuectl_jobs SET blocked = blocked + CASE WHEN NEW.state = 'completed' THEN -1 ELSE 1 END
   WHERE doc ? 'after' AND NOT archived AND doc->'after' ? NEW.id AND id <> NEW.id;
  RETURN NULL;
END
$$;
CREATE FUNCTION queuectl_dependents_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE changes jsonb;
BEGIN
  -- New rows are counted once all of them are in: a batch may name a dependency on a later line.
  UPDATE queuectl_jobs j SET blocked = queuectl_unfinished(j.doc->'after')
    FROM new_rows n WHERE j.seq = n.seq AND n.doc ? 'after' AND jsonb_array_length(n.doc->'after') > 0;
  SELECT jsonb_agg(jsonb_build_object('id', n.id, 'delta', 1)) INTO changes FROM new_rows n WHERE n.state <> 'completed';
  IF changes IS NOT NULL THEN PERFORM queuectl_move_dependents(changes, ARRAY(SELECT seq FROM new_rows)); END IF;
  RETURN NULL;
END
$$;
CREATE FUNCTION queuectl_dependents_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE changes jsonb;
BEGIN
  SELECT jsonb_agg(jsonb_build_object('id', o.id, 'delta', -1)) INTO changes FROM old_rows o WHERE o.state <> 'completed';
  IF changes IS NOT NULL THEN PERFORM queuectl_move_dependents(changes, '{}'); END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER queuectl_jobs_dependents_updated AFTER UPDATE ON queuectl_jobs FOR EACH ROW
  WHEN ((OLD.state = 'completed') <> (NEW.state = 'completed')) EXECUTE FUNCTION queuectl_dependents_updated();
CREATE TRIGGER queuectl_jobs_dependents_inserted AFTER INSERT ON queuectl_jobs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION queuectl_dependents_inserted();
CREATE TRIGGER queuectl_jobs_dependents_deleted AFTER DELETE ON queuectl_jobs
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION queuectl_dependents_deleted();

-- Rows already there get their counts once.
UPDATE queuectl_jobs SET blocked = queuectl_unfinished(doc->'after') WHERE doc ? 'after' AND jsonb_array_length(doc->'after') > 0 AND NOT archived;
`;
