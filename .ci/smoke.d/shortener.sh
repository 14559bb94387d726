#!/usr/bin/env bash
# Shorten a link, follow it, and wait for the click to reach the stats through the
# Redis Stream, the Celery beat/worker consumer and the counter flush.
set -euo pipefail
: "${BASE:?}" "${TOKEN:?}"
tmp=$(mktemp -d)
trap 'rm -rf "${tmp}"' EXIT
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$@"; }

status=$(curl -sS -o "${tmp}/shorten.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  -H "Authorization: Token ${TOKEN}" -d '{"long_url": "https://example.com/smoke", "tags": ["smoke"]}' \
  "${BASE}/api/v1/shorten")
echo "shorten: ${status} $(cat "${tmp}/shorten.json")"
[[ "${status}" == "201" ]]
code=$(json "${tmp}/shorten.json" 'd["short_code"]')

for attempt in 1 2; do  # the first answer fills the cache through Django, the second comes from the hot path
  curl -sS -o /dev/null -D "${tmp}/redirect.headers" -A 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' \
    "${BASE}/${code}"
  grep -qi '^HTTP/1.1 302' "${tmp}/redirect.headers"
  grep -qi '^location: https://example.com/smoke' "${tmp}/redirect.headers"
done
echo "redirect: 302 -> https://example.com/smoke (twice)"

gone=$(curl -sS -o /dev/null -w '%{http_code}' "${BASE}/smoke-no-such-code")
[[ "${gone}" == "404" ]]

for _ in $(seq 1 30); do
  curl -fsS -H "Authorization: Token ${TOKEN}" "${BASE}/api/v1/links/${code}/stats" >"${tmp}/stats.json"
  curl -fsS -H "Authorization: Token ${TOKEN}" "${BASE}/api/v1/links/${code}" >"${tmp}/link.json"
  clicks=$(json "${tmp}/stats.json" 'd["clicks"]')
  if [[ "${clicks}" == "2" ]]; then
    echo "stats: $(json "${tmp}/stats.json" '{k: d[k] for k in ("clicks", "unique_visitors", "bots", "browsers")}')"
    echo "link click_count: $(json "${tmp}/link.json" 'd["click_count"]')"
    [[ "$(json "${tmp}/link.json" 'd["click_count"]')" == "2" ]]
    exit 0
  fi
  sleep 1
done
echo "shortener smoke: clicks never reached the stats; last: $(cat "${tmp}/stats.json")" >&2
exit 1
