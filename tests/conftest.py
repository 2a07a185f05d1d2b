"""Suite-wide pytest setup: only plugin registration lives here."""

pytest_plugins = ["fixtures_servers", "fixtures_pg"]
