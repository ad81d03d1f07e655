"""`serve build serving.entry:app` needs an Application object, not a builder: this is the default one.

Config files point at the typed builder instead (`import_path: serving.app:app_builder` with
`args:`), so their arguments are validated by `ServiceArgs`.
"""
from __future__ import annotations

from serving.app import app_builder
from serving.config import ServiceArgs

app = app_builder(ServiceArgs())
