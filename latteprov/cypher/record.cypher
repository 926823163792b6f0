// name: check_context
// What the consistency checks need from the graph for one batch: the extent and sea masses
// of the ensembles tagged $tags ([{tag, nx, nt, ml, ms, mc}]) and the properties of the
// entities $uids (the propagators of correlators, ensembles and their sea actions).
CALL () {
  UNWIND $tags AS tag
  MATCH (e:Ensemble {tag: tag})
  RETURN collect(properties(e)) AS ensembles
}
CALL () {
  UNWIND $uids AS u
  MATCH (n:Entity {uid: u})
  RETURN collect(properties(n)) AS nodes
}
RETURN ensembles, nodes

// name: placed_outside
// For the ensembles $ensembles ([{tag, nx, nt}]) that the graph holds without an extent or not
// at all: the first entity already recorded on one of them whose origin lies outside that
// extent (the origin check, run when the ensemble arrives after its products). Returns tag,
// kind, name, axis, value and size; no row when every origin fits.
UNWIND $ensembles AS e
OPTIONAL MATCH (known:Ensemble {tag: e.tag})
WITH e WHERE known IS NULL OR known.nx IS NULL OR known.nt IS NULL
CALL (e) {
  MATCH (n:Entity {ensemble: e.tag})
  WHERE (e.nt IS NOT NULL AND n.t >= e.nt)
     OR (e.nx IS NOT NULL AND (n.x >= e.nx OR n.y >= e.nx OR n.z >= e.nx))
  RETURN n LIMIT 1
}
WITH e, n, [a IN ['x', 'y', 'z', 't'] WHERE n[a] IS NOT NULL
            AND n[a] >= CASE a WHEN 't' THEN coalesce(e.nt, n[a] + 1) ELSE coalesce(e.nx, n[a] + 1) END][0] AS axis
RETURN e.tag AS tag, n.kind AS kind, n.name AS name, axis, n[axis] AS value,
       CASE axis WHEN 't' THEN e.nt ELSE e.nx END AS size
LIMIT 1

// name: set_state
// Sets the completion state of the entities $uids to $state; returns the uids found.
UNWIND $uids AS u
MATCH (n:Entity {uid: u})
SET n.state = $state
RETURN collect(n.uid) AS found
