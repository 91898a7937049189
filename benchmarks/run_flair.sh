#!/usr/bin/env bash
# flair 0.15.1's SequenceTagger against seqtasks on the ud-pos training file, the same shape (100d trainable
# word embeddings, BiLSTM 256 per direction, CRF, batch 32, 2 threads), one after the other on this machine.
# flair lives in its own venv (benchmarks/.venv-flair), never in the project's. Writes runs/flair-vs-seqtasks.json.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${SEQTASKS_DATA_DIR:-$(cd .. && pwd)/shared/datasets}/ud_english_ewt"
venv=benchmarks/.venv-flair
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q torch==2.13.0      # the CPU build, first, so flair does not pull a CUDA one
    "$venv/bin/pip" install -q flair==0.15.1
fi
mkdir -p runs
"$venv/bin/python" benchmarks/flair_tagger.py "$data/en_ewt-ud-train.conllu.gz" "$data/en_ewt-ud-dev.conllu" 60 \
    | tail -n 1 > runs/flair.json
SEQTASKS_DATA_DIR="$(dirname "$data")" .venv/bin/seqtasks bench ud-pos --set head.crf=true --json runs/seqtasks-crf.json >/dev/null
.venv/bin/python - <<'PY'
import json
flair = json.load(open("runs/flair.json"))
ours = json.load(open("runs/seqtasks-crf.json"))
rows = {"flair": (flair["train_tokens_per_s"], flair["predict_tokens_per_s"]),
        "seqtasks": (ours["train"]["toolkit_tokens_per_s"], ours["inference"]["batch_256"]["tokens_per_s"])}
json.dump({"flair": flair, "seqtasks": {"train_tokens_per_s": rows["seqtasks"][0],
                                        "predict_tokens_per_s": rows["seqtasks"][1]}},
          open("runs/flair-vs-seqtasks.json", "w"), indent=2)
print("| toolkit | train tokens/s (batch 32) | predict tokens/s (batch 256) |\n|---|---|---|")
for name, (train, predict) in rows.items():
    print(f"| {name} | {train:,.0f} | {predict:,.0f} |")
print(f"seqtasks / flair: train {rows['seqtasks'][0] / rows['flair'][0]:.1f}x, predict {rows['seqtasks'][1] / rows['flair'][1]:.1f}x")
PY
