"""Task heads: plain nn.Modules that take the encoder's output. HEADS maps config names to them."""
from heads.classification import ClassificationHead
from heads.matching import MatchingHead
from heads.output import HeadOutput
from heads.regression import RegressionHead
from heads.tagging import TaggingHead

HEADS = {"classification": ClassificationHead, "matching": MatchingHead, "regression": RegressionHead,
         "tagging": TaggingHead}


def get_head(name: str):
    if name not in HEADS:
        raise ValueError(f"unknown head {name!r}; valid heads: {', '.join(sorted(HEADS))}")
    return HEADS[name]


__all__ = ["HEADS", "ClassificationHead", "HeadOutput", "MatchingHead", "RegressionHead", "TaggingHead", "get_head"]
