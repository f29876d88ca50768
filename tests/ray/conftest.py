"""One Ray cluster for every test in tests/ray: a head and a second node on loopback, started once a session.

Starting Ray costs about 10 s and each actor a few seconds on a loaded machine, so the tests share one cluster
(``ray_cluster``): a head node with 2 CPUs and a worker node with 1 CPU (``ray.cluster_utils.Cluster``, two
raylets on this machine), and this process connected to it as the driver. Every module here must run in one
pytest-xdist worker: mark it ``pytestmark = pytest.mark.xdist_group("ray")`` (the Makefile runs pytest with
``--dist loadgroup``). Tests must leave the cluster as they found it (kill the actors they make).

Without Ray installed (the ``ray`` extra) the whole directory is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("ray")

# No token authentication for this private loopback cluster.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """A two-node loopback cluster (3 CPUs in all) with ``ray.init`` done; yields the ``Cluster``."""
    from ray.cluster_utils import Cluster

    import ray

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=True)
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
