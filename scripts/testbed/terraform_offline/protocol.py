"""The tfplugin6 protocol messages, taken from the generated module that `pyvider` ships.

Only that one generated file is loaded, by path: importing the `pyvider` package would first import
its provider framework (about a second), and Terraform starts the provider several times per command.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_MODULE_NAME = "scripts.testbed.terraform_offline._tfplugin6_pb2"


def _load_generated_module() -> ModuleType:
    if _MODULE_NAME in sys.modules:
        return sys.modules[_MODULE_NAME]
    package = importlib.util.find_spec("pyvider")  # finds without importing
    if package is None or not package.submodule_search_locations:
        raise ImportError("pyvider is not installed: pip install -r requirements-dev.txt")
    path = Path(
        package.submodule_search_locations[0], "protocols", "tfprotov6", "protobuf", "tfplugin6_pb2.py"
    )
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


tfplugin6 = _load_generated_module()
PROVIDER_SERVICE = tfplugin6.DESCRIPTOR.services_by_name["Provider"]
