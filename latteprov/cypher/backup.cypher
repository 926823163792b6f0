// name: backup_uids
// Every node's uid (locks and nodes without one left out), for a backup's checksum.
MATCH (n)
WHERE n.uid IS NOT NULL AND NOT n:Lock
RETURN n.uid AS uid

// name: backup_edges
// Every relationship by its endpoints' uids, type and role, for a backup's checksum.
MATCH (a)-[r]->(b)
WHERE a.uid IS NOT NULL AND b.uid IS NOT NULL
RETURN a.uid AS a, type(r) AS type, r.role AS role, b.uid AS b

// name: backup_any
// One node with a uid (locks left out), if the graph holds any: whether a restore would merge.
MATCH (n)
WHERE n.uid IS NOT NULL AND NOT n:Lock
RETURN n.uid AS uid
LIMIT 1

// name: backup_counts
// Node and relationship counts, read in the backup checksum's transaction.
CALL () { MATCH (n) RETURN count(n) AS nodes }
CALL () { MATCH ()-[r]->() RETURN count(r) AS relationships }
RETURN nodes, relationships
