"""Tool backends: in-process Python modules and HTTP upstreams (see :mod:`opp.tools.registry`)."""
