"""Text for speech, shared by the stages and the engines: what a line says as an engine should
read it (:mod:`.speech`), Mandarin readings in context (:mod:`.zh`), and subtitle files whose
encoding nobody wrote down (:mod:`.encoding`)."""
