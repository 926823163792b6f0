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

// name: set_state
// Sets the completion state of the entities $uids to $state; returns the uids found.
UNWIND $uids AS u
MATCH (n:Entity {uid: u})
SET n.state = $state
RETURN collect(n.uid) AS found
