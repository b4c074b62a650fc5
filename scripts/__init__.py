"""Everything that is not the Lambda package: product CLIs (cli/), test equipment (testbed/), dev tools."""

from pathlib import Path

# The one definition of where the repository is, for every script that reads its files.
REPO_ROOT = Path(__file__).resolve().parent.parent
