"""The model layer: the shared LSTM encoder, its cells and character CNN."""
