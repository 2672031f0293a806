"""Build hook: ship the seed policy in ``rules/`` inside the wheel as ``salesgate/seed_rules``.

setuptools cannot map a folder outside the three source roots into a package declaratively,
and the seed policy must stay at the top level where policy owners find it.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithSeedRules(build_py):
    def run(self) -> None:
        super().run()
        source = Path(__file__).parent / "rules"
        target = Path(self.build_lib) / "salesgate" / "seed_rules"
        shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))


setup(cmdclass={"build_py": BuildPyWithSeedRules})
