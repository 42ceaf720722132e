from setuptools import find_packages, setup

setup(
    name="qiki_tracks",
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/qiki_tracks"]),
        ("share/qiki_tracks", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    tests_require=["pytest"],
    zip_safe=True,
    maintainer="QIKI developers",
    maintainer_email="dev@qiki.example.com",
    description=open("package.xml").read().split("<description>")[1].split("</description>")[0],
    license="Apache-2.0",
    entry_points={"console_scripts": []},
)
