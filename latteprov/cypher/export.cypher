// name: export_entities
// Every entity of kind $kind with its labels and properties, streamed for the CSV export.
MATCH (n:Entity)
WHERE n.kind = $kind
RETURN labels(n) AS labels, properties(n) AS props

// name: export_runs
// Every run with its labels and properties ($kind is 'Run', unused by the match).
MATCH (n:Run)
WHERE $kind = 'Run'
RETURN labels(n) AS labels, properties(n) AS props

// name: export_datafiles
// Every data file with its labels and properties ($kind is 'DataFile').
MATCH (n:DataFile)
WHERE $kind = 'DataFile'
RETURN labels(n) AS labels, properties(n) AS props

// name: export_invalidations
// Every invalidation event with its labels and properties ($kind is 'Invalidation').
MATCH (n:Invalidation)
WHERE $kind = 'Invalidation'
RETURN labels(n) AS labels, properties(n) AS props

// name: export_relationships
// Every relationship of the types $types between exported nodes: endpoint uids, type, role.
MATCH (a)-[r]->(b)
WHERE type(r) IN $types
RETURN a.uid AS from, b.uid AS to, type(r) AS type, r.role AS role
