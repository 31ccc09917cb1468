"""The closed set of error and refusal codes, each with a human explanation per language.

Every error the API returns and every refused scan stored in the database uses one of these
codes; the CHECK constraint on `failed_scans.reason` mirrors the scan-related subset.
"""

REASONS: dict[str, tuple[str, str]] = {
    # code: (zh-CN, en)
    "validation_failed": ("输入有误，请检查标出的字段", "Some input is invalid; check the named field"),
    "unauthenticated": ("请先登录", "Please log in first"),
    "bad_credentials": ("手机号或密码不正确", "Wrong phone number or password"),
    "forbidden": ("您没有权限进行此操作", "You are not allowed to do this"),
    "csrf_failed": ("页面已过期，请刷新后重试", "The page is stale; reload and try again"),
    "not_found": ("找不到该内容", "Not found"),
    "method_not_allowed": ("不支持该操作", "Method not allowed"),
    "insufficient_balance": ("可用余额不足", "Not enough available balance"),
    # The requester (or the community pool) cannot pay the estimate: not the volunteer's own balance.
    "payer_short": ("求助人时间不足", "The requester has not enough time banked"),
    "merchant_suspended": ("该商家已暂停兑换", "This merchant is suspended: no redemptions"),
    # Posting a request one cannot pay: refused before anyone is asked to help.
    "time_short": ("您存储的时间不够支付这次求助", "You have not banked enough time for this request"),
    "out_of_stock": ("库存不足", "Out of stock"),
    "limit_reached": ("已达到兑换上限", "Limit reached"),
    "outside_window": ("不在活动签到时间内", "Outside the activity's check-in window"),
    "capacity_full": ("活动人数已满", "The activity is full"),
    "not_published": ("活动尚未发布", "The activity is not published"),
    "not_member": ("您不是该社区的成员，无法参加", "You are not a member of a community that may join"),
    "too_far": ("您距离活动地点太远", "You are too far from the activity"),
    "daily_cap_reached": ("今日积分已达上限", "Today's points cap is reached"),
    "invalid_state": ("当前状态下不能进行此操作", "Not possible in the current state"),
    "already_used": ("该凭证已使用", "This voucher was already used"),
    "idempotency_conflict": ("重复提交的请求内容不一致", "Same idempotency key with a different request"),
    "conflict": ("与现有数据冲突", "Conflicts with existing data"),
    "code_unknown": ("没有这个编号", "No such code"),
    "code_expired": ("二维码已过期，请扫描最新的二维码", "This QR code has expired; scan the current one"),
    "code_revoked": ("二维码已作废", "This QR code was revoked"),
    "too_large": ("内容太大", "Too large"),
    "unsupported_media": ("不支持的文件类型", "Unsupported file type"),
    "rate_limited": ("操作太频繁，请稍后再试", "Too many requests; try again later"),
    "unavailable": ("服务暂时不可用，请稍后重试", "Service temporarily unavailable; retry shortly"),
    # scanning
    "poster_not_accepted": ("本活动只接受现场大屏上的动态二维码，请扫描现场大屏",
                            "This activity takes only the live code on the venue's screen; scan that one"),
    "location_required": ("本活动需要定位才能签到，请允许获取位置后重试",
                          "This activity needs your location to check in; allow location and try again"),
    "late_scan_expired": ("离线扫码上传太晚，已无法计入", "This offline scan was uploaded too late to count"),
    "owned_transfer": ("该笔流水属于兑换、服务、随手拍或签到等业务，请在该业务中撤销",
                       "This transfer belongs to a redemption, service, report or check-in; undo it there"),
    "internal": ("服务器出错了，请稍后重试", "Server error; please retry later"),
    # 通存通兑 (cross-community spending)
    "outside_area": ("该社区不在您的通兑范围内：积分和时长只能在发放它们的社区使用，除非所在街道或区开通了通存通兑",
                     "This community is outside your spending area: points and minutes are spent where they "
                     "were issued unless the street or district has opened cross-community spending"),
    "not_spendable_here": ("您在这里可用的余额不足：其他社区发放的积分或时长不在本社区的通兑范围内",
                           "Not enough to spend here: what other communities issued is outside this "
                           "community's spending area"),
    # joining: phone codes, the password rule, join requests, imports
    "weak_password": ("密码需为 8 到 128 个字符，其中至少 8 个不是空格", "The password must be 8 to 128 characters, at least 8 of them not spaces"),
    "sms_code_invalid": ("验证码不正确或已过期，请重新输入或重新获取", "The code is wrong or has expired; try again or get a new one"),
    "sms_code_locked": ("验证码错误次数过多，请 15 分钟后再试", "Too many wrong codes; try again in 15 minutes"),
    "already_registered": ("该手机号已注册，请直接登录或找回密码", "This phone is registered; log in or reset the password"),
    "already_member": ("您已是该社区的成员", "You are already a member of this community"),
    "old_spreadsheet": ("这是旧版 Excel 文件（.xls）。请在 Excel 或 WPS 中“另存为” .xlsx 格式后再上传",
                        "This is an old Excel file (.xls). Save it as .xlsx in Excel or WPS, then upload it again"),
    "import_columns": ("文件第一行需要“姓名”和“手机号”两列，请使用模板", "The first row needs the columns name and phone; use the template"),
    # reach and records
    "consent_required": ("请先阅读并勾选同意个人信息保护告知书", "Read and tick your consent to the privacy notice first"),
    "id_number_invalid": ("身份证号不正确，请核对后重新输入", "This ID number is not valid; check it and try again"),
    "requirement_unmet": ("参加本活动需要先完成培训或办理保险，请联系社区",
                          "This activity needs a training or insurance first; ask your community"),
}


def explain(code: str, lang: str = "zh") -> str:
    zh, en = REASONS.get(code, REASONS["internal"])
    return en if lang == "en" else zh
