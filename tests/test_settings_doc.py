"""Every setting is documented in the README (the operator's reference)."""

from service.config import Settings
from tests.support import REPO


def test_every_setting_has_a_readme_row():
    readme = (REPO / "README.md").read_text()
    missing = [name for name in Settings.model_fields
               if name != "database_url" and f"`MODLABEL_{name.upper()}`" not in readme]
    assert "`DATABASE_URL`" in readme
    assert not missing, f"README lacks a row for: {missing}"
