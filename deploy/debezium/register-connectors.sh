#!/bin/sh
# One-shot: waits for Kafka Connect's REST API, then creates or updates every connector in /debezium/*.json.
# PUT /connectors/<name>/config is idempotent, so re-running after a config change updates the connector.
set -eu
connect="${CONNECT_URL:-http://connect:8083}"
until curl -fsS "$connect/connectors" > /dev/null; do
  echo "waiting for Kafka Connect at $connect"
  sleep 3
done
for file in /debezium/*.json; do
  name=$(sed -n 's/^  "name": "\(.*\)",$/\1/p' "$file")
  # The file holds {"name": ..., "config": {...}}; PUT wants only the config object.
  config=$(sed -n '/"config": {/,/^  }/p' "$file" | sed '1s/.*"config": {/{/' | sed '$s/^  }.*/}/')
  status=$(printf '%s' "$config" | curl -sS -o /tmp/answer -w '%{http_code}' -X PUT -H 'Content-Type: application/json' --data-binary @- "$connect/connectors/$name/config")
  case "$status" in
    200|201) echo "connector $name registered" ;;
    *) echo "connector $name: HTTP $status: $(cat /tmp/answer)"; exit 1 ;;
  esac
done
