"""seqtasks: one shared LSTM encoder, interchangeable task heads, recipes on public datasets."""
from seqtasks.encoder import EncoderOutput, LSTMEncoder

__version__ = "0.1.0"
__all__ = ["EncoderOutput", "LSTMEncoder", "__version__"]
