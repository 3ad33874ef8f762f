-- FerretDB v1.24's PostgreSQL backend turns {_id: v} (and every equality) into
-- `_jsonb->'_id' @> '<v>'`, which its own unique btree index on (_jsonb->'_id') cannot serve, so
-- findById is a sequential scan. This event trigger adds a GIN (jsonb_path_ops) index on the same
-- expression to every table FerretDB creates, which serves `@>`: findById becomes an index scan.
-- FerretDB does not know about the index (listIndexes does not show it); it goes away with the
-- table. Idempotent. Used by the local stack (scripts/stack/servers/postgres.sh) and by the
-- cluster's MongoDB stand-in image (scripts/images/containerfiles/mongod-ferretdb).
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION public.parley_id_gin_for(tbl oid) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE r record;
BEGIN
  SELECT c.oid, c.relname, n.nspname INTO r
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = tbl AND c.relkind = 'r' AND c.relname NOT LIKE '\_ferretdb\_%'
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
     AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = '_jsonb' AND NOT a.attisdropped);
  IF FOUND THEN
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> ''_id'') jsonb_path_ops)',
                   'parley_idgin_' || r.oid, r.nspname, r.relname);
  END IF;
END
$fn$;
CREATE OR REPLACE FUNCTION public.parley_id_gin() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM public.parley_id_gin_for(d.objid) FROM pg_event_trigger_ddl_commands() d
    WHERE d.command_tag = 'CREATE TABLE' AND d.object_type = 'table';
END
$fn$;
DROP EVENT TRIGGER IF EXISTS parley_id_gin;
CREATE EVENT TRIGGER parley_id_gin ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION public.parley_id_gin();
-- tables created while the trigger was off
SELECT public.parley_id_gin_for(c.oid) FROM pg_class c WHERE c.relkind = 'r';
