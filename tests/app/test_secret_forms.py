"""A form with a secret (a password, a national ID number) cannot be submitted before its page's script
has taken it: tapped earlier, the browser submits the form itself, as a GET with the secret in the
address (it happened in CI: `login.html?phone=...&password=...`; the ID number form would have put
`privacy.html?id_number=...` in the history and the server's logs). Its submit button is disabled in the
HTML, and the page's script enables it (ui.js `takesSecrets`) once its own submit handler is attached."""

import re
from html.parser import HTMLParser
from pathlib import Path

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
SECRET_NAMES = {"id_number"}  # fields besides passwords that must never travel in an address


class Forms(HTMLParser):
    """Each form's id, whether it holds a secret field, and whether its submit buttons are disabled."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"id": a.get("id"), "secret": False, "submits": []})
        elif self.forms and tag == "input" and (a.get("type") == "password" or a.get("name") in SECRET_NAMES):
            self.forms[-1]["secret"] = True
        elif self.forms and tag == "button" and a.get("type") == "submit":
            self.forms[-1]["submits"].append("disabled" in a)


def secret_forms() -> list[tuple[str, dict]]:
    found = []
    for page in sorted(FRONTEND.glob("*.html")):
        parser = Forms()
        parser.feed(page.read_text(encoding="utf-8"))
        found += [(page.name, form) for form in parser.forms if form["secret"]]
    return found


def test_secret_forms_start_disabled_and_their_script_takes_them():
    forms = secret_forms()
    assert {(page, form["id"]) for page, form in forms} >= {
        ("login.html", "login-form"), ("login.html", "register-form"), ("login.html", "reset-form"),
        ("privacy.html", "close-form"), ("privacy.html", "identity-form"), ("tools.html", "password-form")}
    scripts = {path.name: path.read_text(encoding="utf-8") for path in (FRONTEND / "js").glob("*.js")}
    for page, form in forms:
        assert form["submits"] and all(form["submits"]), f"{page} #{form['id']}: submit button not disabled"
        module = re.search(r'<script type="module" src="/js/([\w-]+\.js)"',
                           (FRONTEND / page).read_text(encoding="utf-8")).group(1)
        calls = " ".join(re.findall(r"takesSecrets\(([^)]*\)?)\)", scripts[module]))
        assert form["id"].split("-")[0] in calls or form["id"] in calls, \
            f"{page} #{form['id']}: {module} never calls takesSecrets for it"
