"""Voices, for the lines stage: voice ids and blends (:mod:`.ids`), each character's voice
resolved for the run's engine (:mod:`.resolve`), the voice library with consent and its deny
list (:mod:`.library`), speaker embeddings (:mod:`.embedding`), the nearest built-in voice to a
clip (:mod:`.match`) and another engine's voice spoken as a prompt (:mod:`.prompts`)."""
