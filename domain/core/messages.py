"""The kinds of message a person is sent, and by which channel and when each goes: what the outbox
(domain/core/outbox.py) needs to queue one. Pure rules: no database, no network.

How a message reads is domain/notify/rules.py (it renders these kinds' texts); delivering it, domain/notify.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.core import clock

CHANNELS = ("sms", "wechat")  # the in-app inbox always gets every message; these are optional


@dataclass(frozen=True)
class Kind:
    title_zh: str
    title_en: str
    body_zh: str
    body_en: str
    moves_value: bool  # money-moving messages go by SMS unless the person chose otherwise
    for_managers: bool = False


KINDS: dict[str, Kind] = {
    "held_decided": Kind(
        "待复核事项已处理", "Held item decided",
        "您提交的{what_zh}（编号 {item}）已{decision_zh}。{reason}",
        "Your {what_en} (no. {item}) was {decision_en}. {reason}",
        moves_value=False, for_managers=True),
    "redemption_approved": Kind(
        "兑换已通过", "Redemption approved",
        "您兑换的「{reward}」已通过审核，扣除 {points} 积分。请凭兑换码到{community}领取。",
        "Your redemption of “{reward}” was approved ({points} points). Collect it at {community} with your voucher.",
        moves_value=True),
    "redemption_rejected": Kind(
        "兑换未通过", "Redemption declined",
        "您兑换「{reward}」的申请未通过：{reason}。冻结的积分已退回。",
        "Your request for “{reward}” was declined: {reason}. The held points are back.",
        moves_value=True),
    "redemption_expiring": Kind(
        "兑换码即将过期", "Voucher expires soon",
        "您兑换的「{reward}」还有 {days} 天过期，请尽快到{community}领取。",
        "Your voucher for “{reward}” expires in {days} days. Please collect it at {community}.",
        moves_value=False),
    "redemption_expired": Kind(
        "兑换已过期", "Redemption expired",
        "您兑换「{reward}」的{what}已过期，积分已退回。",
        "Your {what} for “{reward}” expired; the points are back.",
        moves_value=True),
    "report_verified": Kind(
        "上报已核实", "Report verified",
        "您的上报已由{community}核实，获得 {points} 积分。感谢您！",
        "{community} verified your report: {points} points. Thank you!",
        moves_value=True),
    "report_rejected": Kind(
        "上报未通过", "Report not accepted",
        "您的上报未通过核实：{reason}。您可以补充后重新上报。",
        "Your report was not accepted: {reason}. You can add details and report again.",
        moves_value=False),
    "service_accepted": Kind(
        "有人接单了", "Someone will help",
        "您的求助「{title}」已有志愿者接单。",
        "A volunteer accepted your request “{title}”.",
        moves_value=False),
    "service_completed": Kind(
        "服务已完成，请确认", "Service done: please confirm",
        "「{title}」的志愿者已标记服务完成，请确认服务时长。{days} 天内未确认的，将按预估时长自动确认。",
        "The volunteer marked “{title}” as done. Please confirm the time; if it is not confirmed within {days} "
        "days, the estimate is confirmed for you.",
        moves_value=False),
    "service_confirmed": Kind(
        "服务时长已入账", "Service time banked",
        "「{title}」已确认，{minutes} 分钟已存入您的时间银行。",
        "“{title}” is confirmed: {minutes} minutes banked.",
        moves_value=True),
    # deductions with due process, medals, selections
    "deduction_proposed": Kind(
        "扣分提议", "Deduction proposed",
        "{community}依据{rule}提议扣除 {points} 积分。如有异议，请在 {days} 天内申诉。",
        "{community} proposes to deduct {points} points under {rule}. You may appeal within {days} days.",
        moves_value=False),
    "deduction_appealed": Kind(
        "扣分申诉待处理", "Deduction appealed",
        "扣分（编号 {item}）的当事人提出申诉：{reason}",
        "The person of deduction no. {item} appealed: {reason}",
        moves_value=False, for_managers=True),
    "deduction_decided": Kind(
        "扣分已决定", "Deduction decided",
        "{community}对 {amount} 积分的扣分{decision_zh}，实际扣除 {points} 积分。{reason}",
        "{community}: the deduction of {amount} points was {decision_en}; {points} points taken. {reason}",
        moves_value=True),
    "medal_awarded": Kind(
        "获得勋章", "Medal awarded",
        "恭喜您获得勋章「{medal}」！",
        "Congratulations: you were awarded the medal “{medal}”!",
        moves_value=False),
    "medal_revoked": Kind(
        "勋章已撤销", "Medal revoked",
        "您的勋章「{medal}」已被撤销：{reason}",
        "Your medal “{medal}” was revoked: {reason}",
        moves_value=False),
    "selection_open": Kind(
        "评选开始", "Selection open",
        "{community}{quarter}「{title}」评选开始，您是候选人（{why}）。居民投票截止 {until}。",
        "{community} {quarter} “{title}”: you are a candidate ({why}). Residents vote until {until}.",
        moves_value=False),
    "selection_result": Kind(
        "评选结果", "Selection result",
        "{community}{quarter}「{title}」评选：{name}入选，现进入公示。",
        "{community} {quarter} “{title}”: {name} was selected; the result is now posted for objections.",
        moves_value=False),
    "appeal_answered": Kind(
        "申诉已答复", "Appeal answered",
        "{community}已答复您对公示的申诉：{answer}",
        "{community} answered your appeal: {answer}",
        moves_value=False),
    "points_expiring": Kind(
        "积分即将到期", "Points expire soon",
        "您有 {points} 积分将于 {date} 到期，请及时使用。",
        "{points} of your points expire on {date}. Use them in time.",
        moves_value=True),
    "role_invited": Kind(  # a role waits for the person's consent
        "邀请您担任新职务", "You are invited to a role",
        "{inviter}邀请您担任{where}的{role}。请在首页“给我的邀请”中接受或婉拒。",
        "{inviter} invites you to be {role} of {where}. Accept or decline under “Invitations for me” on your home page.",
        moves_value=False),
    "join_approved": Kind(
        "入社申请已通过", "You have joined",
        "您已加入{community}，成为志愿者。{next}",
        "You are now a volunteer of {community}. {next}",
        moves_value=False),
    "join_rejected": Kind(
        "入社申请未通过", "Joining declined",
        "{community}未通过您的入社申请：{reason}。",
        "{community} declined your request to join: {reason}.",
        moves_value=False),
    "checkout_credited": Kind(
        "签退已记录", "Checked out",
        "「{title}」已签退：服务 {duration}，获得 {points} 积分。",
        "Checked out of “{title}”: {duration} served, {points} points.",
        moves_value=True),
    "checkout_zero": Kind(
        "自动签退，未记时长", "Checked out automatically, no time counted",
        "「{title}」结束时您还没有签退，系统已自动签退，未记录服务时长。如果您一直在场，请申请补录。",
        "You had not checked out of “{title}” when it ended, so you were checked out with no time counted. "
        "If you stayed, ask for a correction.",
        moves_value=False),
    "checkout_correction_asked": Kind(
        "补录申请", "Correction requested",
        "{name}申请补录「{title}」的服务时长：{reason}",
        "{name} asks for the time at “{title}” to be credited: {reason}",
        moves_value=False, for_managers=True),
    "baodao_approved": Kind(
        "报到已确认", "Registration confirmed",
        "{community}已确认您的党员报到，您现在是该社区的志愿者。",
        "{community} confirmed your registration; you are now a volunteer there.",
        moves_value=False),
    "baodao_rejected": Kind(
        "报到未通过", "Registration declined",
        "{community}未确认您的党员报到：{reason}。",
        "{community} declined your registration: {reason}.",
        moves_value=False),
    "signup_confirmed": Kind(
        "候补已转正", "You have a place",
        "「{title}」空出了名额，您已由候补转为正式报名。",
        "A place came free at “{title}”: you are now signed up.",
        moves_value=False),
    "certificate_issued": Kind(
        "服务证明已开具", "Certificate issued",
        "{community}已为您开具志愿服务证明（编号 {number}），共 {duration}。",
        "{community} issued your service certificate ({number}): {duration} in all.",
        moves_value=False),
    "manager_digest": Kind(
        "今日待办", "Waiting for you today",
        "{community}待处理：兑换 {redemptions} 件，上报 {reports} 件，申诉 {appeals} 件。",
        "{community} is waiting: {redemptions} redemptions, {reports} reports, {appeals} appeals.",
        moves_value=False, for_managers=True),
    "queue_overdue": Kind(
        "事项等待过久", "Waiting too long",
        "{community}有一件{what}已等待超过 {hours} 小时，请尽快处理。",
        "At {community}, a {what} has waited over {hours} hours.",
        moves_value=False, for_managers=True),
    # the grid loop: cases (事项)
    "case_new": Kind(
        "新的居民提事", "A resident raised a matter",
        "{community}有新的居民提事 {number}「{title}」，请及时梳理。",
        "At {community}, a resident raised {number} “{title}”. Please sort it.",
        moves_value=False, for_managers=True),
    "case_sent_up": Kind(
        "社区上报事项，请派单", "A case to dispatch",
        "{community}上报了事项 {number}「{title}」，请派单办理。",
        "{community} sent up case {number} “{title}”. Please dispatch it.",
        moves_value=False, for_managers=True),
    "case_dispatched": Kind(
        "新的派单", "A case for you",
        "事项 {number}「{title}」已派给您单位，请在 {hours} 小时内办理。",
        "Case {number} “{title}” was dispatched to you: handle it within {hours} hours.",
        moves_value=False),
    "case_returned": Kind(
        "事项被退回", "A case was returned",
        "事项 {number}「{title}」被承办单位退回：{reason}。请重新派单。",
        "Case {number} “{title}” was returned by its handler: {reason}. Please dispatch it again.",
        moves_value=False, for_managers=True),
    "case_progress": Kind(
        "事项进展", "Case update",
        "您关注的事项 {number}「{title}」{what}。",
        "The case you follow, {number} “{title}”, {what}.",
        moves_value=False),
    "case_done": Kind(
        "事项已办结，请评价", "Case done: please rate it",
        "您关注的事项 {number}「{title}」已办结，请评价处理结果。",
        "The case you follow, {number} “{title}”, is done. Please rate the result.",
        moves_value=False),
    "case_bonus": Kind(
        "按时办结奖励", "Bonus for a case closed in time",
        "您上报的事项 {number} 已按时办结，获得 {points} 积分奖励。感谢您！",
        "The case you reported, {number}, was closed in time: {points} bonus points. Thank you!",
        moves_value=True),
    "case_overdue": Kind(
        "事项已超期", "Case overdue",
        "事项 {number}「{title}」已超过办理时限，请尽快办理。",
        "Case {number} “{title}” is past its deadline. Please handle it now.",
        moves_value=False),
    "case_escalated": Kind(
        "超期事项督办", "Overdue case escalated",
        "事项 {number}「{title}」已超过办理时限，已升级至{level}督办。",
        "Case {number} “{title}” is past its deadline and was escalated to {level}.",
        moves_value=False, for_managers=True),
}


def default_channels(kind: str) -> tuple[str, ...]:
    """Money-moving events by SMS; the rest only in the app."""
    return ("sms",) if KINDS[kind].moves_value else ()


def choose_channels(kind: str, chosen: tuple[str, ...] | None, *, has_phone: bool,
                    has_wechat: bool) -> tuple[str, ...]:
    """The channels a message goes out on besides the inbox: the person's choice or the default,
    limited to the channels they can actually receive."""
    wanted = default_channels(kind) if chosen is None else chosen
    return tuple(c for c in wanted if (c == "sms" and has_phone) or (c == "wechat" and has_wechat))


# ---- when to send ---------------------------------------------------------------------------

QUIET_START, QUIET_END = time(21, 0), time(8, 0)


def quiet_until(at: datetime, zone: ZoneInfo) -> datetime:
    """SMS is not sent 21:00–08:00 local time: a message due then waits until 08:00 (delayed, not
    dropped). Returns `at` itself outside quiet hours."""
    local = clock.local_time(at, zone)
    if QUIET_END <= local.time() < QUIET_START:
        return at
    day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_END, zone)


def due_at(channel: str, at: datetime, zone: ZoneInfo) -> datetime:
    """When a message by `channel` wanted at `at` may go: SMS waits out quiet hours, on its first try
    and on every retry (a retry was rescheduled into the night)."""
    return quiet_until(at, zone) if channel == "sms" else at
