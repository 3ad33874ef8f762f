-- FerretDB v1.24's PostgreSQL backend turns {_id: v} (and every equality) into
-- `_jsonb->'<field>' @> '<v>'` (containment, so that a value also matches inside an array), which
-- the btree indexes it creates on (_jsonb->'<field>') cannot serve: findById and every other
-- equality were sequential scans. This event trigger adds a GIN (jsonb_path_ops) index, which
-- serves `@>`, on the same expression for `_id` and for the first field of every index FerretDB
-- creates (createIndex), so those equalities become index scans. Measured on the local stack:
-- findById 9.3 ms -> 1.6 ms on 5,000 documents (bench-ferretdb.mjs); `messages` by conversation
-- 55-61 ms -> see FERRETDB_GAPS.md, among 90,000 messages.
-- FerretDB does not know about these indexes (listIndexes does not show them). One goes when no
-- FerretDB index starts with its field any more (dropIndex), and all go with the table.
-- Idempotent. Used by the local stack (scripts/stack/servers/postgres.sh) and by the cluster's
-- MongoDB stand-in image (scripts/images/containerfiles/mongod-ferretdb).
SET client_min_messages = warning;

-- The top-level field an index's first key is (`(_jsonb -> 'f'::text)`), or null.
CREATE OR REPLACE FUNCTION public.parley_first_field(idx oid) RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT substring(pg_get_indexdef(idx, 1, true) FROM '^\(_jsonb -> ''([^'']+)''::text\)$')
$fn$;

-- Runs one statement of ours; a concurrent twin (two FerretDB connections creating one table's
-- indexes at once) makes it fail with a duplicate, which must not fail FerretDB's own statement.
CREATE OR REPLACE FUNCTION public.parley_try(stmt text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  EXECUTE stmt;
EXCEPTION WHEN unique_violation OR duplicate_table OR duplicate_object OR undefined_object THEN
  RAISE NOTICE 'parley: % (%)', SQLERRM, stmt;
END
$fn$;

-- The GIN indexes one FerretDB table should have: on _id, and on each field a FerretDB index starts
-- with; drops ours whose field none starts with any more.
CREATE OR REPLACE FUNCTION public.parley_id_gin_for(tbl oid) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE r record; f text; ours record;
BEGIN
  SELECT c.oid, c.relname, n.nspname INTO r
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = tbl AND c.relkind = 'r' AND c.relname NOT LIKE '\_ferretdb\_%'
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
     AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = '_jsonb' AND NOT a.attisdropped);
  IF NOT FOUND THEN RETURN; END IF;
  PERFORM public.parley_try(format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> ''_id'') jsonb_path_ops)',
                                   'parley_idgin_' || r.oid, r.nspname, r.relname));
  FOR f IN
    SELECT DISTINCT public.parley_first_field(i.indexrelid)
      FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
     WHERE i.indrelid = tbl AND ic.relname NOT LIKE 'parley\_%'
  LOOP
    CONTINUE WHEN f IS NULL OR f = '_id';
    PERFORM public.parley_try(format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> %L) jsonb_path_ops)',
                                     'parley_gin_' || r.oid || '_' || left(md5(f), 8), r.nspname, r.relname, f));
  END LOOP;
  FOR ours IN
    SELECT ic.relname, public.parley_first_field(i.indexrelid) AS field
      FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
     WHERE i.indrelid = tbl AND ic.relname LIKE 'parley\_gin\_%'
  LOOP
    IF NOT EXISTS (SELECT FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                    WHERE i.indrelid = tbl AND ic.relname NOT LIKE 'parley\_%'
                      AND public.parley_first_field(i.indexrelid) = ours.field) THEN
      PERFORM public.parley_try(format('DROP INDEX IF EXISTS %I.%I', r.nspname, ours.relname));
    END IF;
  END LOOP;
END
$fn$;

-- A table or index FerretDB creates (our own indexes are skipped: they fire this too).
CREATE OR REPLACE FUNCTION public.parley_id_gin() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM public.parley_id_gin_for(CASE WHEN d.object_type = 'index'
                                        THEN (SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = d.objid)
                                        ELSE d.objid END)
     FROM pg_event_trigger_ddl_commands() d
    WHERE (d.command_tag = 'CREATE TABLE' AND d.object_type = 'table')
       OR (d.command_tag = 'CREATE INDEX' AND d.object_type = 'index'
           AND split_part(d.object_identity, '.', 2) NOT LIKE 'parley\_%');
END
$fn$;

-- An index FerretDB drops: its schema's tables drop the GIN indexes no index needs any more.
CREATE OR REPLACE FUNCTION public.parley_gin_drop() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM public.parley_id_gin_for(c.oid)
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname IN (
      SELECT d.schema_name FROM pg_event_trigger_dropped_objects() d
       WHERE d.object_type = 'index' AND d.object_name NOT LIKE 'parley\_%');
END
$fn$;

DROP EVENT TRIGGER IF EXISTS parley_id_gin;
CREATE EVENT TRIGGER parley_id_gin ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'CREATE INDEX')
  EXECUTE FUNCTION public.parley_id_gin();
DROP EVENT TRIGGER IF EXISTS parley_gin_drop;
CREATE EVENT TRIGGER parley_gin_drop ON sql_drop WHEN TAG IN ('DROP INDEX')
  EXECUTE FUNCTION public.parley_gin_drop();
-- tables and indexes created while the triggers were off
SELECT public.parley_id_gin_for(c.oid) FROM pg_class c WHERE c.relkind = 'r';
