"""Quarterly rankings of points (or minutes) earned, per community, street, team or household,
as JSON and as CSV, and the community ledger export for audits.

The code is in `service.py` (and the package's other modules); this file only re-exports it, so
`from domain.rankings import x` keeps working."""


from domain.rankings.service import (  # noqa: F401
    ACCOUNT_ZH,
    CAUSE_ZH,
    KIND_ZH,
    LEDGER_HEADER,
    LEDGER_PAGE,
    MAX_EXPORT_DAYS,
    SCOPES,
    UNIT_ZH,
    WIDE_SCOPES,
    Ranking,
    RankingItem,
    TeamRef,
    Top,
    _authorise,
    _check_args,
    _date_arg,
    _scope_key,
    _unmasked,
    account_labels,
    compute,
    compute_top,
    ledger_csv_pages,
    masked,
    ranking,
    ranking_csv_pages,
    ranking_filename,
    ranking_sql,
    sync_time_zone,
    teams_of,
)
