"""Stand-in torchaudio for the IndexTTS2 contract tests: only its presence is checked."""
__version__ = "0.0+standin"
