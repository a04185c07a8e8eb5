"""Every setting in the one settings table is documented, with its default, in docs/configuration.md."""
from pathlib import Path

from appliance import settings

DOC = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()


def test_every_setting_is_documented():
    for s in settings.SETTINGS:
        line = next((l for l in DOC.splitlines() if l.startswith(f"| `[{s.section}]` | `{s.key}` |")), None)
        assert line is not None, f"[{s.section}] {s.key} is missing from docs/configuration.md"
        assert s.help in line, f"[{s.section}] {s.key}: its description differs from the settings table"


def test_every_volume_key_is_documented():
    for key, (_kind, _default, text) in settings.VOLUME_KEYS.items():
        assert f"| `{key}` |" in DOC and text in DOC, key


def test_every_hook_key_is_documented():
    for key, (_kind, _default, text) in settings.HOOK_KEYS.items():
        line = next((l for l in DOC.splitlines() if l.startswith(f"| `{key}` |") and text in l), None)
        assert line is not None, f"[[volumes.hooks]] {key} is missing from docs/configuration.md"


def test_every_right_letter_is_documented():
    from appliance.access import Right
    for right in Right:
        assert f"| `{right.value}` |" in DOC, right
