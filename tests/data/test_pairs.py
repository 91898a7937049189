import json

import pytest

from seqtasks.data.pairs import PAIR_READERS, split_words
from seqtasks.data.readers import DataFormatError


@pytest.mark.parametrize("name", ["sick", "stsb", "mrpc"])
def test_pair_counts_match_manifest(data_dir, name):
    manifest = json.loads((data_dir / name / "MANIFEST.json").read_text())
    for split in manifest["splits"].values():
        if split["location"] != "shared":
            continue
        rows = PAIR_READERS[name](data_dir / name / split["file"])
        assert len(rows) == split["examples"], split["file"]
        assert all(rows["tokens"]) and all(rows["tokens_b"])
        if "score" in rows.column_names:
            assert 0.0 <= min(rows["score"]) and max(rows["score"]) <= 1.0
        else:
            counts = {label: list(rows["label"]).count(label) for label in ("0", "1")}
            assert counts == split["label_counts"]


def test_stsb_rows_with_quotes_and_extra_fields_stay_whole(data_dir):
    rows = PAIR_READERS["stsb"](data_dir / "stsb" / "sts-train.csv")
    assert rows["line"][-1] == 5749 and rows["score"][0] == pytest.approx(1.0)  # 5.000 on the 0-5 scale
    assert rows["tokens"][0] == ["A", "plane", "is", "taking", "off", "."]


def test_mrpc_bom_crlf_and_repeated_header(data_dir):
    train = PAIR_READERS["mrpc"](data_dir / "mrpc" / "msr-para-train.tsv")
    assert train["line"][0] == 2 and train["label"][0] == "1"
    assert train["tokens_b"][0][-1] == "." and not any("\r" in t for t in train["tokens_b"][0])
    dev = PAIR_READERS["mrpc"](data_dir / "mrpc" / "msr-para-val.tsv")
    assert dev["line"][0] == 2


def test_split_words_keeps_numbers_and_separates_clitics():
    assert split_words("Dominick's sold it for $2.5 billion.") == ["Dominick", "'s", "sold", "it", "for", "$",
                                                                   "2.5", "billion", "."]


@pytest.mark.parametrize("text,message", [
    ("pair_ID\tsentence_A\tsentence_B\trelatedness_score\n1\tA b\tC d\t7.5\tNEUTRAL\n", "outside the dataset's range"),
    ("pair_ID\tsentence_A\tsentence_B\trelatedness_score\n1\tA b\tC d\n", "expected 5 tab-separated fields"),
    ("pair_ID\tsentence_A\tsentence_B\trelatedness_score\n1\tA b\t \t3.0\tNEUTRAL\n", "a sentence of the pair is empty"),
])
def test_malformed_sick_names_file_and_line(tmp_path, text, message):
    path = tmp_path / "SICK_bad.txt"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=rf"SICK_bad\.txt:2: .*{message}"):
        PAIR_READERS["sick"](path)
