"""Which packages the wheel carries, found rather than listed (a listed package can be forgotten).

Three folders are installed under project-specific names: engine/ as `pilang_engine`, kernels/ as
`pilang_kernel` (a top-level `kernels` would shadow Hugging Face's package of that name), and the
grammar and stdlib folders as data inside `pilang`. Nothing else (tests/, benchmarks/, examples/) is
installed. tests/test_wheel.py builds the wheel and runs it from a fresh venv."""
from setuptools import find_namespace_packages, setup

FOLDERS = {"pilang": "pilang", "pilang_engine": "engine", "pilang_kernel": "kernels",
           "pilang._data.grammar": "grammar", "pilang._data.stdlib": "stdlib"}


def packages_under(name: str, folder: str) -> list[str]:
    """`name` and every package below `folder` (with or without __init__.py), named under `name`."""
    found = find_namespace_packages(folder, exclude=["*__pycache__*"])
    return [name, *(f"{name}.{p}" for p in found if "__pycache__" not in p)]


setup(
    packages=[p for name, folder in FOLDERS.items() for p in packages_under(name, folder)],
    package_dir=FOLDERS,
    package_data={"pilang._data.grammar": ["*.lark"], "pilang._data.stdlib": ["*.pil"], "pilang_kernel": ["*.png"],
                  # the packaged sentiment model (weights and card) and pilang's own small labelled sets
                  "pilang_engine.analytics.models": ["*.npz", "*.json"], "pilang_engine.data": ["*.tsv"]},
)
