"""genzoo studio (issue 19): a local web app and JSON API over a folder of runs.

``genzoo studio`` serves :func:`genzoo.studio.app.create_app`; scripts can use the same JSON API
(``/api/runs``, ``/api/runs/NAME``, ``POST /api/runs/NAME/tasks/KIND``, ``/api/runs/NAME/files/PATH``).
FastAPI and uvicorn are the optional extra ``studio`` (``pip install -e '.[studio]'``).
"""
