// name: take_dag_lock
// Serialises transactions that add DERIVED_FROM edges: taken first, held to commit, so a
// cycle check always sees every edge committed before it (see docs/architecture.md).
MERGE (l:Lock {name: 'dag'})
SET l.tick = coalesce(l.tick, 0) + 1

// name: merge_entities
// Creates or matches entities of one class by uid. $labels: the class's labels (from the
// model; one query per class, so the labels are a constant of the statement rather than of
// each row); $rows: [{uid, props, state}]. A matched node keeps its labels and properties;
// differing properties come back as conflicts. state only moves forward (a re-declared
// 'planned' never demotes a started product).
UNWIND $rows AS r
MERGE (n:Entity {uid: r.uid})
ON CREATE SET n += r.props, n:$($labels), n.created_at = datetime(), n.valid = true,
              n.state = coalesce(r.state, 'done'), n._new = true
WITH n, r, n._new IS NOT NULL AS created
REMOVE n._new
FOREACH (_ IN CASE WHEN NOT created AND r.state IS NOT NULL AND n.state <> r.state
                         AND r.state <> 'planned' THEN [1] ELSE [] END | SET n.state = r.state)
RETURN r.uid AS uid, created,
       CASE WHEN created THEN [] ELSE
         [k IN keys(r.props) WHERE k <> 'name' AND n[k] IS NOT NULL AND n[k] <> r.props[k]] END AS conflicts

// name: merge_runs
// Creates or updates runs. $rows: [{uid, props, mutable}]; mutable holds end time and exit state.
UNWIND $rows AS r
MERGE (run:Run {uid: r.uid})
ON CREATE SET run += r.props
SET run += r.mutable
RETURN count(run) AS runs

// name: merge_files
// Creates or updates data files. $rows: [{uid, props, mutable}]; mutable holds size, status, checksum ...
// Products already stored at a file get their file_statuses refreshed (see merge_stored_at).
UNWIND $rows AS r
MERGE (f:DataFile {uid: r.uid})
ON CREATE SET f += r.props
SET f += r.mutable
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

// name: missing_uids
// Which of $uids name no node (of any of the labels latteprov writes).
UNWIND $uids AS u
OPTIONAL MATCH (e:Entity {uid: u})
OPTIONAL MATCH (r:Run {uid: u})
OPTIONAL MATCH (f:DataFile {uid: u})
WITH u, e, r, f WHERE e IS NULL AND r IS NULL AND f IS NULL
RETURN collect(u) AS missing

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
