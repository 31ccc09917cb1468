"""Nobody creates value alone: the community's limits, who may act as the second
person, the day's count of value made by hand, held acts and the flags a manager's pattern raises.

The code is in `service.py` (and the package's other modules); this file only re-exports it, so
`from domain.oversight import x` keeps working."""


from domain.oversight.service import (  # noqa: F401
    FLAG_REASONS,
    UNITS,
    VALUE_ACTS,
    Limits,
    check_pace,
    count_manual,
    explain_flag,
    flag,
    hold,
    limits,
    may_check,
    today,
)
