"""Volunteer records beyond service (志愿服务条例 §19): training sessions with attendance,
commendations (表彰奖励) and evaluations (评价) entered by a community's managers, insurance (§17),
and what an activity requires before a volunteer checks in. Every manager act writes one audit row
in its transaction. The person sees their own records (GET /api/me/records); the export of the five
§19 groups is in export.py, its restore into another instance in restore.py.

The code is in `service.py` (and the package's other modules); this file only re-exports it, so
`from domain.records import x` keeps working."""


from domain.records.service import (  # noqa: F401
    Commendation,
    Evaluation,
    MyRecords,
    MyTraining,
    Policy,
    Requirements,
    Training,
    _day,
    _require_member,
    _text,
    add_commendation,
    add_evaluation,
    add_policy,
    create_training,
    local_today,
    mine,
    record_attendance,
    require_ready,
    set_requirements,
)
