"""StepSync's barrier names: a relative `sync.upstream` / `sync.members` entry is in the node's own namespace, an
absolute one (a fleet's node in another namespace) is taken as it is."""
from qiki_ros.step_sync import qualified


def test_relative_entries_are_in_the_nodes_namespace_absolute_ones_stay():
    assert qualified("/qiki", "radar") == "/qiki/radar"
    assert qualified("/qiki/alpha", "tracker") == "/qiki/alpha/tracker"
    assert qualified("/qiki", "/qiki/alpha/agent") == "/qiki/alpha/agent"
    assert qualified("/qiki/bravo", "/qiki/sim") == "/qiki/sim"
