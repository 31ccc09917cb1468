from domain.core import settings

try:
    settings.get()  # read at import by the modules below: a bad or retired variable is named, not a traceback
except settings.SettingsError as exc:
    raise SystemExit(f"linli: configuration error: {exc}") from None

from api.cli import main  # noqa: E402

main()
