-- wrk script: POST the example's chat endpoint in staging with the token from $REL_TOKEN.
wrk.method = "POST"
wrk.body = '{"message": "hello"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Environment"] = "staging"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("REL_TOKEN") or "")
