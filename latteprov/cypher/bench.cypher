// name: bench_round_trip
// The cheapest request: one row, no data touched (the round-trip floor of the benchmarks).
RETURN 1 AS one

// name: bench_sample
// Uids and names of the entities of kind $kind (the benchmark draws its random questions from them).
MATCH (n:Entity)
WHERE n.kind = $kind
RETURN n.uid AS uid, n.name AS name, n.flow_time AS flow_time

// name: bench_ancestors
// Uids of everything $uid derives from, transitively (endpoints DISTINCT, not paths).
MATCH (:Entity {uid: $uid})-[:DERIVED_FROM]->+(a:Entity)
RETURN collect(DISTINCT a.uid) AS uids

// name: bench_descendants
// Uids of everything derived from $uid, transitively (endpoints DISTINCT, not paths).
MATCH (:Entity {uid: $uid})<-[:DERIVED_FROM]-+(d:Entity)
RETURN collect(DISTINCT d.uid) AS uids

// name: bench_existing_files
// File names (with extension) of the files of the entities $uids that exist (on disk, on
// tape or half-written): what a file-name listing can see of them.
UNWIND $uids AS u
MATCH (:Entity {uid: u})-[:STORED_AT]->(f:DataFile)
WHERE f.status <> 'missing'
RETURN collect(DISTINCT f.name) AS names

// name: bench_existing_files_per_ensemble
// How many distinct existing files the products of each ensemble have.
MATCH (n:Entity)-[:STORED_AT]->(f:DataFile)
WHERE f.status <> 'missing' AND n.ensemble IS NOT NULL
RETURN n.ensemble AS ensemble, count(DISTINCT f) AS files

// name: bench_counts
// Nodes (without the locks, the status tallies and invalidation events) and relationships of the graph.
CALL () { MATCH (n) WHERE NOT n:Lock AND NOT n:Invalidation AND NOT n:Tally RETURN count(n) AS nodes }
CALL () { MATCH ()-[r]->() WHERE NOT r:INVALIDATED_BY RETURN count(r) AS edges }
RETURN nodes, edges
