"""The benchmark over HTTP (issue 16): gunicorn + wrk + pgbench + bare Flask in one run."""
