"""The proxy lab: real Squid, real Verdaccio and the real npm client on loopback.

Used by the end-to-end tests (through fixtures in ``tests/conftest.py``) and by
the ``bench/`` scripts. Nothing here installs anything: ``.ci/run`` installs
Squid (apt) and Verdaccio (``npm ci`` in this folder) before the suite runs.
"""

REGISTRY_HOST = "registry.lab.test"
"""The registry's name: only Squid resolves it (its ``hosts_file``), so npm must go through the proxy."""

MIRROR_HOST = "mirror.lab.test"
"""A second name for the lab's Verdaccio (in the registry certificate, resolved only by Squid): the company mirror
the proxy allows when it refuses the registry's name, or the private registry a scope belongs to."""
