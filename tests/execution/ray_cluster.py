"""A two-node Ray cluster on this machine for the cluster tests, kept apart from the test
session's own Ray instance.

``python -m tests.execution.ray_cluster HEAD_JSON SECOND_JSON`` starts a head node and a second
node (each a real raylet with its own resources, as ``ray start --head`` and
``ray start --address`` make them), prints one JSON line ``{"address", "head", "second"}``
(the GCS address and the two node ids), and stops both nodes when its standard input closes.
Run it with ``RAY_TMPDIR`` set to a private folder: every process, socket, log and Ray's
"current cluster" file then lives there, so nothing touches another Ray on this machine.

``ray start`` itself cannot make the second node here: with Ray's single-machine switch
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, which keeps every server on 127.0.0.1) it refuses to
join a second node, and without it every server listens on the routable address.
``ray.cluster_utils.Cluster`` starts the same node processes without that check.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    from ray.cluster_utils import Cluster

    head_args, second_args = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    cluster = Cluster(initialize_head=True, head_node_args={"include_dashboard": False,
                                                            **head_args})
    second = cluster.add_node(**second_args)
    cluster.wait_for_nodes()
    print(json.dumps({"address": cluster.address, "head": cluster.head_node.node_id,
                      "second": second.node_id}), flush=True)
    sys.stdin.read()  # until the test closes it
    cluster.shutdown()


if __name__ == "__main__":
    main()
