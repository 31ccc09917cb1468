"""The current local period, for pages: they take their default day, month and quarter from here,
never from the phone's own clock and zone (which can differ from LINLI_TZ for hours at a boundary)."""

from litestar import Controller, get

from domain.core import clock


class PeriodController(Controller):
    path = "/api/periods"
    tags = ["clock"]

    @get("/current")
    async def current_period(self) -> clock.Period:
        """Now, in the deployment's time zone: today, this week's Monday, this month and this quarter
        (with their bounds), and the eight most recent quarters, newest first. Needs no sign-in."""
        return clock.current_period()


CONTROLLERS = (PeriodController,)  # listed in api/capabilities.py
