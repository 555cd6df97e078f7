from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"
CADDYFILE = Path(__file__).resolve().parent.parent / "deploy" / "Caddyfile"


def test_compose_describes_the_production_services_with_health_checks_and_volumes():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert set(services) == {"caddy", "web", "worker", "beat", "db", "redis"}
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


def test_only_the_tls_proxy_is_published_and_it_forwards_to_gunicorn():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    published = {name: service["ports"] for name, service in services.items() if "ports" in service}
    assert published == {"caddy": ["443:443", "80:80"]}
    caddy = services["caddy"]
    assert caddy["image"].startswith("caddy")
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert "./deploy/certs:/certs:ro" in caddy["volumes"]
    assert caddy["depends_on"]["web"]["condition"] == "service_healthy"
    assert "healthcheck" in caddy
    assert services["web"]["expose"] == ["8000"]
    assert "--bind 0.0.0.0:8000" in services["web"]["command"]


def test_the_caddyfile_terminates_tls_with_the_clinic_certificate_or_the_internal_ca():
    caddyfile = CADDYFILE.read_text()
    assert "{$SITE_HOST:localhost} {" in caddyfile
    # TLS=/certs/cert.pem /certs/key.pem in .env gives `tls <cert> <key>`; unset, `tls internal`.
    assert "tls {$TLS:internal}" in caddyfile
    assert "reverse_proxy web:8000" in caddyfile


def test_the_app_serves_the_proxied_host_over_https_only():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    environment = services["web"]["environment"]
    assert environment["DEBUG"] == "false"
    assert "ALLOW_HTTP" not in environment
    assert environment["ALLOWED_HOSTS"] == services["caddy"]["environment"]["SITE_HOST"]
    # The health check asks as Caddy does; a plain-HTTP request would only get the HTTPS redirect.
    probe = services["web"]["healthcheck"]["test"][-1]
    assert "'X-Forwarded-Proto': 'https'" in probe
    assert "'Host': '${SITE_HOST:-localhost}'" in probe


def test_the_workers_scale_out_as_replicas_while_beat_stays_one():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    worker = services["worker"]
    # Compose fills ${WORKER_REPLICAS:-2} from .env: two workers unless the clinic says otherwise.
    assert worker["deploy"]["replicas"] == "${WORKER_REPLICAS:-2}"
    # Anything that names one container (a fixed container name, a published port, a fixed
    # Celery node name) would stop a second replica from starting or from being told apart.
    assert "container_name" not in worker and "ports" not in worker
    assert " -n " not in worker["command"] and "--hostname" not in worker["command"]
    # The replicas share one PostgreSQL and one broker: the chunks' locks and queue are those.
    assert worker["environment"] == services["web"]["environment"]
    assert services["beat"]["deploy"]["replicas"] == 1
