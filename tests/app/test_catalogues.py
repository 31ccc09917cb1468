"""The two message catalogues load as ES modules and name the same keys (a merge that drops a comma
breaks every page at once; a key in one language only shows as its raw name in the other)."""

import json
import shutil
import subprocess
from pathlib import Path

I18N = Path(__file__).resolve().parents[2] / "frontend" / "i18n"
NODE = shutil.which("node") or "node"  # Node 20 is on every machine of ours and CI's


def keys_of(name: str) -> set[str]:
    script = f"import(process.argv[1]).then(m => console.log(JSON.stringify(Object.keys(m.default))))"
    out = subprocess.run([NODE, "--input-type=module", "-e", script, (I18N / name).as_uri()],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def test_both_catalogues_load_and_have_the_same_keys():
    zh, en = keys_of("zh-CN.js"), keys_of("en.js")
    assert len(zh) > 900
    assert sorted(zh - en) == [] and sorted(en - zh) == []
