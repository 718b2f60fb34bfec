from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# The story engine makes a few hundred draws per example, and Hypothesis builds its unicode tables on the first
# text draw: generation is legitimately slower than the health check expects, so that one check is off.
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
