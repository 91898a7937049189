import json

import pytest

from seqtasks.data.readers import DataFormatError, read_labeled_lines


@pytest.mark.parametrize("name,file", [("sst2", "stsa.binary.train"), ("sst5", "stsa.fine.dev"),
                                       ("trec", "TREC.train.all"), ("mr", "rt-polarity.all"),
                                       ("subj", "subj.all")])
def test_example_counts_match_manifest(data_dir, name, file):
    manifest = json.loads((data_dir / name / "MANIFEST.json").read_text())
    expected = next(s["examples"] for s in manifest["splits"].values() if s["file"] == file)
    rows = read_labeled_lines(data_dir / name / file)
    assert len(rows) == expected
    assert set(rows["label"]) <= set(manifest["label_set"])


def test_cp1252_bytes_do_not_split_lines(data_dir):
    # mr has 0x85 (cp1252 ellipsis) in 22 lines: splitlines() on latin-1 text would break them
    rows = read_labeled_lines(data_dir / "mr" / "rt-polarity.all")
    text = " ".join(" ".join(t) for t in rows["tokens"])
    assert "\u2026" in text and "\x85" not in text
    assert rows["line"][-1] == 10662


def test_trec_latin1_line_is_decoded(data_dir):
    rows = read_labeled_lines(data_dir / "trec" / "TREC.train.all")
    row = rows[list(rows["line"]).index(66)]
    assert any("city" in token for token in row["tokens"])


def test_label_only_lines_are_skipped_with_a_warning(data_dir):
    with pytest.warns(UserWarning, match=r"skipped 4 lines.*\[769, 1368, 3691, 3775\]"):
        rows = read_labeled_lines(data_dir / "cr" / "custrev.all")
    assert len(rows) == 3775 - 4


def test_empty_file_error_names_file_and_line(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n\n")
    with pytest.raises(DataFormatError, match=r"empty\.txt:1: the file is empty"):
        read_labeled_lines(path)


def test_gzipped_file_reads_like_plain(tmp_path):
    import gzip

    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(b"1 good film\n0 bad film\n"))
    rows = read_labeled_lines(tmp_path / "a.txt.gz")
    assert list(rows["label"]) == ["1", "0"] and rows["tokens"][1] == ["bad", "film"]
