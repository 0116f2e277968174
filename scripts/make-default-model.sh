#!/usr/bin/env bash
# Re-makes fixtures/model.onnx, the bundled default model: an autoencoder trained by `flowscope train`
# on six generated benign captures (no attacks; seeds 101-106; 20,000 packets each with payloads up to 256 bytes: the density and packet sizes of
# fixtures/demo.pcap), one network label each. Deterministic data and seed; takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for seed in 101 102 103 104 105 106; do
  node bin/run.js gen --out "$work/benign-$seed.pcap" --packets 20000 --no-attacks --seed "$seed" --max-payload 256 >/dev/null
  node bin/run.js ingest "$work/benign-$seed.pcap" --db "$work/benign.duckdb" --network "benign-$seed" >/dev/null
done
node bin/run.js train --db "$work/benign.duckdb" --out fixtures/model.onnx --seed 1 "$@"
