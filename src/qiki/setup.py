from setuptools import find_packages, setup

import glob
import os

# launch/ and config/ live at the top of the repository (one copy) and install into share/qiki.
_TOP = os.path.relpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DATA_FILES = [("share/qiki/launch", glob.glob(os.path.join(_TOP, "launch", "*.py")))]
for _dir in sorted({os.path.dirname(p) for p in glob.glob(os.path.join(_TOP, "config", "**", "*.*"), recursive=True)}):
    DATA_FILES.append((os.path.join("share/qiki", os.path.relpath(_dir, _TOP)),
                       sorted(glob.glob(os.path.join(_dir, "*.*")))))

setup(
    name="qiki",
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    py_modules=["qiki_overlay"],
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/qiki"]),
        ("share/qiki", ["package.xml"]),
    ] + DATA_FILES,
    install_requires=["setuptools"],
    tests_require=["pytest"],
    zip_safe=True,
    maintainer="QIKI developers",
    maintainer_email="dev@qiki.example.com",
    description=open("package.xml").read().split("<description>")[1].split("</description>")[0],
    license="Apache-2.0",
    entry_points={
        "console_scripts": ["qiki = qiki.cli:main"],
        # the commands of `qiki` (qiki.cli.discover_verbs); other packages add theirs to the same group
        "qiki.verbs": ["bringup = qiki.cli:BringupVerb", "run = qiki.cli:RunVerb", "config = qiki.cli:ConfigVerb",
                       "graph = qiki.cli:GraphVerb", "bag = qiki.cli:BagVerb"],
    },
)
