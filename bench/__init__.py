"""The benchmark harness (`make bench`): seeds a database, serves the portal under gunicorn as in
production, drives it with wrk and writes bench/results.json. See bench/README.md."""
