from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"


def test_compose_describes_the_production_services_with_health_checks_and_volumes():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert set(services) == {"web", "worker", "beat", "db", "redis"}
    assert "gunicorn" in services["web"]["command"]
    assert "worker" in services["worker"]["command"]
    assert "beat" in services["beat"]["command"]
    assert services["beat"]["deploy"]["replicas"] == 1
    assert services["db"]["image"].startswith("postgres")
    assert services["redis"]["image"].startswith("redis")
    for name in ("web", "db", "redis", "worker"):
        assert "healthcheck" in services[name], name
    assert {"postgres-data", "redis-data"} <= set(compose["volumes"])
    for app in ("web", "worker", "beat"):
        assert services[app]["depends_on"]["db"]["condition"] == "service_healthy"
        assert services[app]["environment"]["DATABASE_URL"].startswith("postgres://")
