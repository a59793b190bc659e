"""Stand-in index-tts for the IndexTTS2 contract tests (see tests/standin/README.md)."""
