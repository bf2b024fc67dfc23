import { runSql } from './postgres';

/**
 * FerretDB 1.24 pushes an equality filter down to PostgreSQL as `_jsonb -> 'field' @> value`, which
 * the btree indexes it creates for MongoDB indexes (`_jsonb -> 'field'`) cannot serve: every
 * filtered query, `_id` included, reads the whole table, and a table of large documents is
 * decompressed whole for each one. The stack's PostgreSQL therefore gives each field of every index
 * FerretDB creates a GIN index on the same expression (`jsonb_ops` serves `@>`), made by an event
 * trigger as FerretDB creates its own, and plans every statement for its parameters
 * (`plan_cache_mode = force_custom_plan`, in postgres.ts): a generic plan sees `_jsonb -> $1` and
 * cannot use an expression index. The service asks for nothing of this; on MongoDB its own indexes
 * do the same (docs/production.md).
 */

const INSTALL = `
CREATE OR REPLACE FUNCTION ems_add_equality_indexes(btree regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  def text := pg_get_indexdef(btree);
  tbl regclass;
  field text;
BEGIN
  IF def NOT LIKE '% USING btree %' THEN RETURN; END IF;
  SELECT indrelid INTO tbl FROM pg_index WHERE indexrelid = btree;
  FOR field IN SELECT (regexp_matches(def, '_jsonb -> ''([A-Za-z0-9_]+)''::text', 'g'))[1] LOOP
    EXECUTE format(
      'CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> %L))',
      left(md5(tbl::text || '/' || field), 24) || '_eq', tbl, field
    );
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION ems_on_create_index() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
  created record;
BEGIN
  FOR created IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE object_type = 'index' LOOP
    PERFORM ems_add_equality_indexes(created.objid::regclass);
  END LOOP;
END $$;

DROP EVENT TRIGGER IF EXISTS ems_equality_indexes;
CREATE EVENT TRIGGER ems_equality_indexes ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
  EXECUTE FUNCTION ems_on_create_index();

SELECT ems_add_equality_indexes(i.indexrelid::regclass)
  FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attname = '_jsonb';
`;

/** Installs the trigger in a database FerretDB uses, and twins the indexes made before it. */
export function installEqualityIndexes(port: number, database = 'postgres'): void {
  runSql(port, INSTALL, database);
}
