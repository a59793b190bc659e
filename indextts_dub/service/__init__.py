"""Dubbing as a service: the pipeline's stages as Celery tasks on Redis (:mod:`.tasks`), a shared
store of jobs and takes (:mod:`.store`), many episodes from one file (:mod:`.batch`).

The libraries come with ``pip install 'indextts-dub[service]'``; nothing here is imported by
the stages. The manual: docs/service.md.
"""
