// name: exchange_upstream
// The entities $uids and everything they derive from (DERIVED_FROM, transitively), as one
// list of distinct uids: the lineage a W3C PROV or archive export carries.
UNWIND $uids AS u
MATCH (:Entity {uid: u})-[:DERIVED_FROM]->*(m:Entity)
RETURN collect(DISTINCT m.uid) AS uids

// name: exchange_downstream
// The entity $uid and everything derived from it (its impact), as one list of distinct uids.
MATCH (:Entity {uid: $uid})<-[:DERIVED_FROM]-*(d:Entity)
RETURN collect(DISTINCT d.uid) AS uids

// name: exchange_all
// Every entity uid and every run uid of the graph (a whole-graph export).
CALL () { MATCH (n:Entity) RETURN collect(n.uid) AS entities }
CALL () { MATCH (r:Run) RETURN collect(r.uid) AS runs }
RETURN entities, runs

// name: exchange_runs_touching
// The runs that generated one of the entities $generated or used one of $used, each once,
// with the uids of every entity it used.
CALL () {
  UNWIND $generated AS u
  MATCH (:Entity {uid: u})-[:GENERATED_BY]->(r:Run)
  RETURN r
  UNION
  UNWIND $used AS u
  MATCH (:Entity {uid: u})<-[:USED]-(r:Run)
  RETURN r
}
RETURN r.uid AS uid, [(r)-[:USED]->(e:Entity) | e.uid] AS used

// name: exchange_entities
// Entities $uids with their labels, properties, inputs [{to, role}], the runs that generated
// them, the data files they are stored at (properties) and the invalidation events rooted at
// them (properties).
UNWIND $uids AS u
MATCH (n:Entity {uid: u})
RETURN labels(n) AS labels, properties(n) AS props,
       [(n)-[d:DERIVED_FROM]->(m:Entity) | {to: m.uid, role: d.role}] AS inputs,
       [(n)-[:GENERATED_BY]->(r:Run) | r.uid] AS runs,
       [(n)-[:STORED_AT]->(f:DataFile) | properties(f)] AS files,
       [(n)-[:INVALIDATED_BY]->(i:Invalidation) | properties(i)] AS invalidations

// name: exchange_runs
// Runs $uids with their properties and the uids of the entities each used.
UNWIND $uids AS u
MATCH (r:Run {uid: u})
RETURN properties(r) AS props, [(r)-[:USED]->(e:Entity) | e.uid] AS used

// name: exchange_existing_files
// The data files among $uids that exist, with their properties (an import keeps what a file
// records, adds what it lacks and reports what differs).
UNWIND $uids AS u
MATCH (f:DataFile {uid: u})
RETURN f.uid AS uid, properties(f) AS props

// name: archive_existing_invalidations
// Invalidation events among $uids with their properties, and every event of the graph on the
// roots $roots (uid, action, root, at).
CALL () {
  UNWIND $uids AS u
  MATCH (i:Invalidation {uid: u})
  RETURN collect(properties(i)) AS found
}
CALL () {
  UNWIND $roots AS r
  MATCH (i:Invalidation {root: r})
  RETURN collect({uid: i.uid, action: i.action, root: i.root, at: i.at}) AS on_roots
}
RETURN found, on_roots

// name: archive_create_invalidations
// Creates invalidation events an archive carries that the graph lacks, linked from their roots
// by INVALIDATED_BY. $rows: [{props (at as [epoch seconds, nanosecond, zone])}]; returns how
// many roots were found.
UNWIND $rows AS r
MATCH (x:Entity {uid: r.props.root})
CREATE (i:Invalidation)
SET i = r.props, i.at = datetime({epochSeconds: r.at[0], nanosecond: r.at[1], timezone: r.at[2]})
CREATE (x)-[:INVALIDATED_BY]->(i)
RETURN count(i) AS created

// name: qcdml_ensembles
// Ensembles with a tag among $tags or a markov chain URI among $uris: tag, uri, nx, nt (what a
// QCDml document must agree with).
MATCH (e:Ensemble)
WHERE e.tag IN $tags OR e.markov_chain_uri IN $uris
RETURN e.tag AS tag, e.markov_chain_uri AS uri, e.nx AS nx, e.nt AS nt

// name: qcdml_configuration
// The gauge configuration $uid (none: no such configuration) with the markov chain URI of its
// ensemble, the runs that generated it {run_kind, params} and its data files {path, crc32}.
MATCH (c:GaugeConfig {uid: $uid})
OPTIONAL MATCH (c)-[:DERIVED_FROM {role: 'ensemble'}]->(e:Ensemble)
RETURN c {.stream, .config, .plaquette} AS config, e.markov_chain_uri AS uri,
       [(c)-[:GENERATED_BY]->(r:Run) | r {.run_kind, .params}] AS runs,
       [(c)-[:STORED_AT]->(f:DataFile) | f {.path, .crc32}] AS files
