// name: take_dag_lock
// Serialises transactions that add DERIVED_FROM edges: taken first, held to commit, so a
// cycle check always sees every edge committed before it (see docs/architecture.md).
MERGE (l:Lock {name: 'dag'})
SET l.tick = coalesce(l.tick, 0) + 1

// name: existing_uids
// Which of the uids a batch writes already exist: $entities (Entity uids), $runs (Run uids),
// $files (DataFile uids). Returns entities (a list of uids), runs ([{uid, props}]: recording a
// run again adds what it lacks and reports what differs) and files ([{uid, status}]: a new
// product's file_statuses are known from them). The write path creates the others with
// CREATE (no MERGE, so no Eager operators); a concurrent creator of the same uid makes that
// CREATE fail on the uniqueness constraint, and the whole batch is retried.
CALL () { UNWIND $entities AS u MATCH (n:Entity {uid: u}) RETURN collect(u) AS entities }
CALL () { UNWIND $runs AS u MATCH (n:Run {uid: u}) RETURN collect({uid: u, props: properties(n)}) AS runs }
CALL () { UNWIND $files AS u MATCH (f:DataFile {uid: u}) RETURN collect({uid: u, status: f.status}) AS files }
RETURN entities, runs, files

// name: create_entities
// Creates entities of one class that existing_uids did not find. $labels: the class's labels
// (one statement per class, so they are a constant of the statement); $rows: [{props}], props
// complete (uid, kind, name, state, valid, file_statuses ...); search_name is the name in lower
// case (the search box's text index).
UNWIND $rows AS r
CREATE (n:$($labels))
SET n = r.props, n.created_at = datetime(), n.search_name = toLower(r.props.name)
RETURN count(n) AS created

// name: match_entities
// Entities of a batch that exist already. $rows: [{uid, props, state}], $rank: the order of
// states. A matched node gains the properties it lacks and keeps those it has; differing ones
// come back as conflicts [{key, recorded}] (the name is a label: the first one stays). state only
// moves forward in $rank's order (model.STATE_RANK: a late 'running' never demotes a finished
// product, a re-run that succeeds lifts a failed one). Returns uid, kind, name and conflicts per row.
UNWIND $rows AS r
MATCH (n:Entity {uid: r.uid})
WITH r, n, [k IN keys(r.props) WHERE k <> 'name' AND n[k] IS NOT NULL AND n[k] <> r.props[k] | {key: k, recorded: n[k]}] AS conflicts,
     [k IN keys(r.props) WHERE n[k] IS NULL] AS missing
FOREACH (k IN missing | SET n[k] = r.props[k])
FOREACH (_ IN CASE WHEN r.state IS NOT NULL AND coalesce($rank[r.state], -1) > coalesce($rank[n.state], -1)
                   THEN [1] ELSE [] END | SET n.state = r.state)
RETURN r.uid AS uid, n.kind AS kind, n.name AS name, conflicts

// name: merge_runs
// Updates runs that exist already (or creates them). $rows: [{uid, props, mutable, times,
// mtimes}]: props holds only what the run lacks (the writer compares and reports conflicts),
// mutable its end time and exit state; times and mtimes hold the datetimes of props and mutable
// as [epoch seconds, nanosecond, zone] (see create_runs), set only where the run has none. The
// exit state and end time move together and only forward ($rank): a late start event never
// reopens a run.
UNWIND $rows AS r
MERGE (run:Run {uid: r.uid})
SET run += r.props
FOREACH (k IN [k IN keys(r.times) WHERE run[k] IS NULL] | SET run[k] = datetime({epochSeconds: r.times[k][0], nanosecond: r.times[k][1], timezone: r.times[k][2]}))
FOREACH (_ IN CASE WHEN run.exit_state IS NULL
                        OR coalesce($rank[r.mutable.exit_state], -1) > coalesce($rank[run.exit_state], -1)
                   THEN [1] ELSE [] END |
  SET run += r.mutable
  FOREACH (k IN keys(r.mtimes) | SET run[k] = datetime({epochSeconds: r.mtimes[k][0], nanosecond: r.mtimes[k][1], timezone: r.mtimes[k][2]})))
RETURN count(run) AS runs

// name: create_runs
// Creates runs that existing_uids did not find. $rows: [{uid, props, mutable, times, mtimes}]:
// times and mtimes hold the datetimes of props and mutable as [epoch seconds, nanosecond, zone]
// (the driver spends ~50 us of Python on each datetime it packs; these are three scalars).
UNWIND $rows AS r
CREATE (run:Run)
SET run = r.props, run += r.mutable
FOREACH (k IN keys(r.times) | SET run[k] = datetime({epochSeconds: r.times[k][0], nanosecond: r.times[k][1], timezone: r.times[k][2]}))
FOREACH (k IN keys(r.mtimes) | SET run[k] = datetime({epochSeconds: r.mtimes[k][0], nanosecond: r.mtimes[k][1], timezone: r.mtimes[k][2]}))
RETURN count(run) AS runs

// name: create_files
// Creates data files that existing_uids did not find (no product is stored at them yet).
// $rows: [{uid, props, mutable, times, mtimes}] (datetimes as in create_runs).
UNWIND $rows AS r
CREATE (f:DataFile)
SET f = r.props, f += r.mutable
FOREACH (k IN keys(r.times) | SET f[k] = datetime({epochSeconds: r.times[k][0], nanosecond: r.times[k][1], timezone: r.times[k][2]}))
FOREACH (k IN keys(r.mtimes) | SET f[k] = datetime({epochSeconds: r.mtimes[k][0], nanosecond: r.mtimes[k][1], timezone: r.mtimes[k][2]}))
RETURN count(f) AS files

// name: merge_files
// Updates data files that exist already (or creates them). $rows: [{uid, props, mutable, times,
// mtimes}]; mutable holds size, status, checksum ...; datetimes as in merge_runs.
// Products already stored at a file get their file_statuses refreshed (see merge_stored_at).
UNWIND $rows AS r
MERGE (f:DataFile {uid: r.uid})
ON CREATE SET f += r.props
FOREACH (k IN [k IN keys(r.times) WHERE f[k] IS NULL] | SET f[k] = datetime({epochSeconds: r.times[k][0], nanosecond: r.times[k][1], timezone: r.times[k][2]}))
SET f += r.mutable
FOREACH (k IN keys(r.mtimes) | SET f[k] = datetime({epochSeconds: r.mtimes[k][0], nanosecond: r.mtimes[k][1], timezone: r.mtimes[k][2]}))
WITH f
CALL (f) {
  MATCH (p:Entity)-[:STORED_AT]->(f)
  SET p.file_statuses = COLLECT { MATCH (p)-[:STORED_AT]->(g:DataFile) WHERE g.status IS NOT NULL RETURN g.status }
}
RETURN count(f) AS files

// name: merge_derived_from
// DERIVED_FROM edges between entities. $rows: [{from, to, role}]; returns the rows whose
// endpoints were found (the caller compares counts to report unknown uids).
UNWIND $rows AS r
MATCH (a:Entity {uid: r.from})
MATCH (b:Entity {uid: r.to})
MERGE (a)-[e:DERIVED_FROM {role: r.role}]->(b)
RETURN count(e) AS matched

// name: merge_generated_by
// GENERATED_BY edges from a product to the run that produced it. $rows: [{from, to}]
UNWIND $rows AS r
MATCH (a:Entity {uid: r.from})
MATCH (b:Run {uid: r.to})
MERGE (a)-[e:GENERATED_BY]->(b)
RETURN count(e) AS matched

// name: merge_used
// USED edges from a run to an input. $rows: [{from, to}]
UNWIND $rows AS r
MATCH (a:Run {uid: r.from})
MATCH (b:Entity {uid: r.to})
MERGE (a)-[e:USED]->(b)
RETURN count(e) AS matched

// name: merge_stored_at
// STORED_AT edges from a product to a data file. $rows: [{from, to}]. The product keeps the
// statuses of its files in file_statuses (one per file), so the status report reads one
// property per entity instead of walking every entity's relationships.
UNWIND $rows AS r
MATCH (a:Entity {uid: r.from})
MATCH (b:DataFile {uid: r.to})
MERGE (a)-[e:STORED_AT]->(b)
WITH a, count(e) AS edges
SET a.file_statuses = COLLECT { MATCH (a)-[:STORED_AT]->(g:DataFile) WHERE g.status IS NOT NULL RETURN g.status }
RETURN sum(edges) AS matched

// name: create_derived_from
// DERIVED_FROM edges out of entities created in this transaction (no such edge can exist yet,
// so CREATE, not MERGE). $rows: [{from, to, role}]; returns the rows whose endpoints were found.
UNWIND $rows AS r
MATCH (a:Entity {uid: r.from})
MATCH (b:Entity {uid: r.to})
CREATE (a)-[e:DERIVED_FROM {role: r.role}]->(b)
RETURN count(e) AS matched

// name: create_generated_by
// GENERATED_BY edges with an endpoint created in this transaction. $rows: [{from, to}]
UNWIND $rows AS r
MATCH (a:Entity {uid: r.from})
MATCH (b:Run {uid: r.to})
CREATE (a)-[e:GENERATED_BY]->(b)
RETURN count(e) AS matched

// name: create_used
// USED edges with an endpoint created in this transaction. $rows: [{from, to}]
UNWIND $rows AS r
MATCH (a:Run {uid: r.from})
MATCH (b:Entity {uid: r.to})
CREATE (a)-[e:USED]->(b)
RETURN count(e) AS matched

// name: create_stored_at
// STORED_AT edges of products created in this transaction (their file_statuses were set on
// creation, from the batch's files). $rows: [{from, to}]
UNWIND $rows AS r
MATCH (a:Entity {uid: r.from})
MATCH (b:DataFile {uid: r.to})
CREATE (a)-[e:STORED_AT]->(b)
RETURN count(e) AS matched

// name: find_cycles
// For the DERIVED_FROM edges just written ($rows: [{from, to}]), a path that closes a cycle
// through one of them, as names; none when the graph is still a DAG. Only an edge whose
// source already has dependents can close a cycle, which keeps the common case cheap.
UNWIND $rows AS r
MATCH (a:Entity {uid: r.from})
MATCH (b:Entity {uid: r.to})
WHERE a = b OR (EXISTS { (a)<-[:DERIVED_FROM]-() } AND EXISTS { (b)-[:DERIVED_FROM]->+(a) })
CALL (a, b) {
  OPTIONAL MATCH p = SHORTEST 1 (b)-[:DERIVED_FROM]->+(a)
  RETURN CASE WHEN p IS NULL THEN [a.name, a.name] ELSE [a.name] + [n IN nodes(p) | n.name] END AS cycle
}
RETURN cycle
LIMIT 1

// name: node_kinds
// What each of $uids is: 'Entity', 'Run', 'DataFile', or null for no node (the link rules say
// which kinds an edge may join). Returns [{uid, is, name}].
UNWIND $uids AS u
OPTIONAL MATCH (e:Entity {uid: u})
OPTIONAL MATCH (r:Run {uid: u})
OPTIONAL MATCH (f:DataFile {uid: u})
RETURN collect({uid: u, is: CASE WHEN e IS NOT NULL THEN 'Entity' WHEN r IS NOT NULL THEN 'Run'
                                 WHEN f IS NOT NULL THEN 'DataFile' END,
                name: coalesce(e.kind + ' ' + e.name, r.name, f.path)}) AS kinds

// name: server_info
// Server version and edition, with node and relationship counts.
CALL dbms.components() YIELD name, versions, edition
WITH versions[0] AS version, edition
CALL () { MATCH (n) RETURN count(n) AS nodes }
CALL () { MATCH ()-[r]->() RETURN count(r) AS relationships }
RETURN version, edition, nodes, relationships

// name: fill_file_statuses
// One-off migration run by 'latteprov init': entities stored at files but written before
// entities carried file_statuses get them; a no-op once every such entity has the list.
MATCH (a:Entity) WHERE a.file_statuses IS NULL AND EXISTS { (a)-[:STORED_AT]->(:DataFile) }
CALL (a) {
  SET a.file_statuses = COLLECT { MATCH (a)-[:STORED_AT]->(g:DataFile) WHERE g.status IS NOT NULL RETURN g.status }
} IN TRANSACTIONS OF 10000 ROWS

// name: fill_search_names
// One-off migration run by 'latteprov init': entities written before they carried search_name
// (or loaded by neo4j-admin import) get it; a no-op once every entity has it.
MATCH (a:Entity) WHERE a.search_name IS NULL
CALL (a) {
  SET a.search_name = toLower(a.name)
} IN TRANSACTIONS OF 10000 ROWS

// name: invalid_entities
// Which of the entities $uids are invalid: a product recorded later, derived from one of them,
// is invalid too (validity does not depend on the order things are recorded in).
UNWIND $uids AS u
MATCH (n:Entity {uid: u})
WHERE n.valid = false
RETURN collect(u) AS invalid

// name: invalidate_downstream
// Inside a write transaction that holds the tally lock: existing entities $uids gained an
// invalid input, so they and everything derived from them become invalid (validity does not
// depend on the order of events). Marks only what is still valid and returns it counted per
// (ensemble, kind) for the tallies: [{ensemble ('' for shared entities), kind, count}].
UNWIND $uids AS u
MATCH (:Entity {uid: u})<-[:DERIVED_FROM]-*(d:Entity)
WITH DISTINCT d
WHERE d.valid IS NULL OR d.valid <> false
SET d.valid = false
RETURN coalesce(d.ensemble, '') AS ensemble, d.kind AS kind, count(*) AS count

// name: bulk_nodes_present
// How many nodes the database holds besides latteprov's locks and status tallies: the bulk
// first load ('--initial') runs only on a database where this is 0.
MATCH (n) WHERE NOT n:Lock AND NOT n:Tally
RETURN count(n) AS present
