"""``npm-inspect demo``: the real npm in a small corporate network on loopback, under the dashboard.

Its own package: it builds a world (:mod:`inspector.lab`: a registry, a corporate proxy, npm's config) per
scenario and drives the same session lifecycle as ``run`` and the dashboard
(:class:`~inspector.lifecycle.SessionLifecycle`). The dashboard never imports it.
"""
