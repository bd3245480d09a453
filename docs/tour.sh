#!/usr/bin/env bash
# The README's tour, as a script: every command the tour shows, run in a fresh temp folder, so the
# README's output can be refreshed and checked (`bash docs/tour.sh`).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
sluice() { echo "\$ sluice $*" >&2; node "$ROOT/bin/sluice.js" "$@"; }
work="$(mktemp -d)"
cd "$work"

sluice init my-ctr
cd my-ctr
mkdir -p data
cat > data/day1.csv <<'EOF'
impression_id,user_id,ad_id,country,bid,clicked
1,u1,ad7,US,0.42,false
2,u2,ad3,DE,1.10,true
3,u1,ad3,US,0.87,false
EOF
cat > data/day2.jsonl <<'EOF'
{"impression_id":4,"user_id":"u3","ad_id":"ad7","country":"FR","bid":0.5,"clicked":true}
{"impression_id":5,"user_id":"u2","ad_id":"ad9","country":"DE","bid":2.25,"clicked":false}
EOF
sluice import data/day1.csv --name impressions
sluice import data/day2.jsonl --name impressions --append
sluice datasets
sluice show impressions@2 --rows 5
sluice diff impressions@1 impressions@2
sluice tag impressions@2 golden
sluice export impressions@golden --format jsonl --out golden.jsonl
head -2 golden.jsonl
sluice dedup impressions --key user_id --latest impression_id --out users-latest
sluice gc --dry-run --min-age 0
# Bad input: a clear message and exit code 1 (failed) or 2 (bad usage); nothing in the catalog changes.
sluice show impressions@9 || echo "exit code $?"
sluice import data/missing.csv --name x || echo "exit code $?"
sluice export impressions --format xlsx --out x.xlsx || echo "exit code $?"
rm -rf "$work"
