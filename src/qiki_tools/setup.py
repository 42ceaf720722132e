from setuptools import find_packages, setup

setup(
    name="qiki_tools",
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/qiki_tools"]),
        ("share/qiki_tools", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    tests_require=["pytest"],
    zip_safe=True,
    maintainer="QIKI developers",
    maintainer_email="dev@qiki.example.com",
    description=open("package.xml").read().split("<description>")[1].split("</description>")[0],
    license="Apache-2.0",
    entry_points={
        # commands of the `qiki` CLI (qiki.cli.discover_verbs) and the figures of `qiki run --record`
        "qiki.verbs": ["plot = qiki_tools.verbs:PlotVerb", "console = qiki_tools.verbs:ConsoleVerb",
                       "campaign = qiki_tools.campaign.verb:CampaignVerb"],
        "qiki.run_figures": ["plots = qiki_tools.verbs:run_figures"],
    },
)
