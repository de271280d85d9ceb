"""Hypothesis profiles: ``default`` (a bounded run in ``make test``) and ``fuzz`` (``make fuzz``)."""
from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("fuzz", max_examples=15000, deadline=None,
                          suppress_health_check=list(HealthCheck))
settings.load_profile("default")
