"""One reading of a scanned code, in Python and in the browser (issue 15): both implementations
run the same vectors (scan_code_vectors.json), so a phone and a hand scanner at the station agree."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from domain.core.codes import code_from_text

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
VECTORS = json.loads((HERE / "scan_code_vectors.json").read_text())["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["why"] for v in VECTORS])
def test_python_reads_the_code(vector):
    assert code_from_text(vector["text"]) == vector["code"]


def test_javascript_reads_the_same_codes():
    node = shutil.which("node")
    assert node, "node is needed to test frontend/js/scan-code.js"
    module = (ROOT / "frontend" / "js" / "scan-code.js").as_uri()
    script = (f"import {{ codeFromText }} from {json.dumps(module)};\n"
              "const vectors = JSON.parse(process.argv[1]);\n"
              "console.log(JSON.stringify(vectors.map((v) => codeFromText(v.text))));\n")
    run = subprocess.run([node, "--input-type=module", "-e", script, json.dumps(VECTORS)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert [(v["why"], code) for v, code in zip(VECTORS, got)] == [(v["why"], v["code"]) for v in VECTORS]


def test_the_old_readers_are_the_one_reader():
    from domain import supermarket
    from domain.checkin import rules
    assert rules.code_from_text is code_from_text and supermarket.code_from_scan is code_from_text
