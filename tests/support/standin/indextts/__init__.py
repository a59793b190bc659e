"""Stand-in index-tts for the IndexTTS2 contract tests (see tests/support/standin/README.md)."""
