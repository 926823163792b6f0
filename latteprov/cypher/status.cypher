// name: status_scan
// Completion per (ensemble, kind) in one pass over the entities: the status report while the
// tallies are not complete, the source of a recount, the tallies' reference in tests. Returns
// groups of equal (ensemble, kind, state, valid, file statuses) with their count, which
// latteprov.tally turns into the columns exactly as it does the tallies' snapshots (files
// are read from each entity's file_statuses, kept by the write path and by scan).
// $ensemble: a tag, or null for every ensemble (shared parameter sets have none).
MATCH (n:Entity)
WHERE $ensemble IS NULL OR n.ensemble = $ensemble
RETURN coalesce(n.ensemble, '') AS ensemble, n.kind AS kind, n.state AS state, n.valid AS valid,
       coalesce(n.file_statuses, []) AS files, count(*) AS count
