"""Task heads: plain nn.Modules that take the encoder's output. Each declares the HeadConfig options it
takes (OPTIONS); which heads a kind of task offers is said once, in seqtasks/tasks."""
from heads.classification import ClassificationHead
from heads.comparator import ComparatorPairHead, ComparatorScoreHead
from heads.cosine import CosinePairHead, CosineScoreHead
from heads.language_model import LanguageModelHead
from heads.output import HeadOutput
from heads.regression import RegressionHead
from heads.tagging import TaggingHead

__all__ = ["ClassificationHead", "ComparatorPairHead", "ComparatorScoreHead", "CosinePairHead", "CosineScoreHead", "HeadOutput", "LanguageModelHead", "RegressionHead", "TaggingHead"]
