"""What the tests share: factories of records, the production server, storage access, test doubles."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
