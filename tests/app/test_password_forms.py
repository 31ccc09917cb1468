"""A form with a password field cannot be submitted before its page's script has taken it: tapped
earlier, the browser submits the form itself, as a GET with the password in the address (it happened in
CI: `login.html?phone=...&password=...`). Its submit button is disabled in the HTML, and the page's
script enables it (ui.js `takesPasswords`) once its own submit handler is attached."""

import re
from html.parser import HTMLParser
from pathlib import Path

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


class Forms(HTMLParser):
    """Each form's id, whether it holds a password field, and whether its submit buttons are disabled."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"id": a.get("id"), "password": False, "submits": []})
        elif self.forms and tag == "input" and a.get("type") == "password":
            self.forms[-1]["password"] = True
        elif self.forms and tag == "button" and a.get("type") == "submit":
            self.forms[-1]["submits"].append("disabled" in a)


def password_forms() -> list[tuple[str, dict]]:
    found = []
    for page in sorted(FRONTEND.glob("*.html")):
        parser = Forms()
        parser.feed(page.read_text(encoding="utf-8"))
        found += [(page.name, form) for form in parser.forms if form["password"]]
    return found


def test_password_forms_start_disabled_and_their_script_takes_them():
    forms = password_forms()
    assert {(page, form["id"]) for page, form in forms} >= {
        ("login.html", "login-form"), ("login.html", "register-form"), ("login.html", "reset-form"),
        ("privacy.html", "close-form"), ("tools.html", "password-form")}
    scripts = {path.name: path.read_text(encoding="utf-8") for path in (FRONTEND / "js").glob("*.js")}
    for page, form in forms:
        assert form["submits"] and all(form["submits"]), f"{page} #{form['id']}: submit button not disabled"
        module = re.search(r'<script type="module" src="/js/([\w-]+\.js)"',
                           (FRONTEND / page).read_text(encoding="utf-8")).group(1)
        calls = " ".join(re.findall(r"takesPasswords\(([^)]*\)?)\)", scripts[module]))
        assert form["id"].split("-")[0] in calls or form["id"] in calls, \
            f"{page} #{form['id']}: {module} never calls takesPasswords for it"
