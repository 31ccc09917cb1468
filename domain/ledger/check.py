"""`linli ledger check`: verify every ledger invariant over the whole database, and that what the
capabilities record (reward stock, attendance and report points, redemption and service states)
agrees with the ledger.

Each query returns the rows that break one invariant; a clean ledger returns none for all.
"""

import asyncpg

from domain.core import queries

Q = queries.load("ledger")

CHECKS: dict[str, str] = {
    # Running accounts count their stored balance; hot accounts (issuing, supermarket) keep none, so
    # their balance is the sum of their entries.
    "sum of all accounts per unit is not zero": """
        select a.unit, sum(case when a.kind in ('user', 'pool') then a.balance else coalesce(s.total, 0) end) as total
        from accounts a
        left join (select account_id, sum(amount) as total from entries group by account_id) s on s.account_id = a.id
        group by a.unit
        having sum(case when a.kind in ('user', 'pool') then a.balance else coalesce(s.total, 0) end) <> 0""",
    "entries of a unit do not sum to zero": """
        select a.unit, sum(e.amount) as total from entries e join accounts a on a.id = e.account_id
        group by a.unit having sum(e.amount) <> 0""",
    "running balance differs from the sum of entries": """
        select a.id, a.balance, coalesce(sum(e.amount), 0) as entries from accounts a
        left join entries e on e.account_id = a.id where a.kind in ('user', 'pool')
        group by a.id having a.balance <> coalesce(sum(e.amount), 0)""",
    # Entry ids grow in the order postings hit an account (its row lock orders them), so the
    # statement's "balance after" must be the running sum in id order.
    "balance after a posting differs from the running sum": """
        select id, account_id, balance_after, running from (
            select e.id, e.account_id, e.balance_after,
                   sum(e.amount) over (partition by e.account_id order by e.id) as running
            from entries e join accounts a on a.id = e.account_id where a.kind in ('user', 'pool')) x
        where balance_after is distinct from running""",
    "held differs from the sum of pending holds": """
        select a.id, a.held, coalesce(sum(t.amount), 0) as pending from accounts a
        left join transfers t on t.debit_account = a.id and t.state = 'pending'
        group by a.id having a.held <> coalesce(sum(t.amount), 0)""",
    "available balance is negative": """
        select id, balance, held from accounts where kind in ('user', 'pool') and balance - held < 0""",
    "posted transfer without exactly one debit and one credit entry": """
        select t.id from transfers t left join entries e on e.transfer_id = t.id where t.state = 'posted'
        group by t.id, t.amount, t.debit_account, t.credit_account
        having count(e.id) <> 2
            or count(*) filter (where e.account_id = t.debit_account and e.amount = -t.amount) <> 1
            or count(*) filter (where e.account_id = t.credit_account and e.amount = t.amount) <> 1""",
    # The ledger's rows name each other without foreign keys on the hot path (migrations/024): the
    # triggers keep them right, and this says so.
    "transfer or entry names a missing account or transfer": """
        select 'entry' as row, e.id from entries e
        where not exists (select 1 from transfers t where t.id = e.transfer_id and e.account_id in
                          (t.debit_account, t.credit_account))
        union all
        select 'transfer', t.id from transfers t
        where not exists (select 1 from accounts a where a.id = t.debit_account)
           or not exists (select 1 from accounts a where a.id = t.credit_account)""",
    "unposted transfer with entries": """
        select t.id from transfers t join entries e on e.transfer_id = t.id where t.state <> 'posted'
        group by t.id""",
    "reversal that does not mirror its original": """
        select r.id from transfers r join transfers o on o.id = r.reverses
        where r.amount <> o.amount or r.debit_account <> o.credit_account or r.credit_account <> o.debit_account
           or r.unit <> o.unit or o.state <> 'posted' or o.kind = 'reversal' or r.state <> 'posted'""",
    # Maker-checker: an approved adjustment request posted exactly its transfer, to its
    # person, by someone other than its maker; a pending or rejected one posted nothing.
    "adjustment request and its transfer disagree": Q.adjustment_request_vs_transfer,
    "transfer between accounts of different units": """
        select t.id from transfers t join accounts d on d.id = t.debit_account
        join accounts c on c.id = t.credit_account where d.unit <> t.unit or c.unit <> t.unit""",
    # ---- accounts per issuing community and settlements (migrations/018) ----
    "person's account issued by an org that is not a community": """
        select a.id, a.org_id from accounts a join orgs o on o.id = a.org_id
        where a.kind = 'user' and o.kind <> 'community'""",
    # Value keeps the community that issued it: an award, adjustment or expiry moves between a
    # community's issuing account and the person's account of THAT community; a gift between two
    # people's accounts of one community; a carry-over between one person's own accounts.
    "transfer moves value into another community's account": """
        select t.id from transfers t join accounts d on d.id = t.debit_account
        join accounts c on c.id = t.credit_account
        where t.id >= (select first_transfer_id from ledger_epochs where name = 'cross_community')
          and ((t.kind in ('award', 'adjustment', 'expiry') and 'user' in (d.kind, c.kind) and d.org_id <> c.org_id)
            or (t.kind = 'gift' and d.org_id <> c.org_id)
            or (t.kind = 'carryover' and (d.user_id is null or d.user_id is distinct from c.user_id)))""",
    # Every posted spend from one community's value into another community has its settlement row,
    # each reversal of one its negative row, and no settlement row stands without such a transfer.
    # (Both checks start with the first transfer after migrations/018: before it, wallets named no
    # community, and the carry-over assigned each to the community that issued most of it.)
    "settlement rows differ from the cross-community postings": Q.settlements_vs_postings,
    # Value crosses communities only inside a spending area (domain/ledger/areas.py): when the spend
    # was asked for, the issuer and the spender shared a street or district whose ruling policy for
    # the unit (as set by then: the latest starts_on on or before that local day) was on.
    "value spent outside its spending area": Q.spent_outside_area,
}

# Consistency of the capabilities with the ledger: what a capability says was paid, held
# or stocked must be what its ledger transfers and change log say. A credit "stands" when it is
# posted and not reversed.

CHECKS |= {
    # rewards.stock has one writer (supermarket._move_stock) that logs every change with the stock after it.
    "reward stock differs from its change log": """
        select r.id as reward_id, r.stock, s.logged, s.last_stock_after from rewards r
        left join lateral (select coalesce(sum(c.delta), 0) as logged,
                                  (array_agg(c.stock_after order by c.id desc))[1] as last_stock_after
                           from reward_stock_changes c where c.reward_id = r.id) s on true
        where r.stock <> s.logged or r.stock <> coalesce(s.last_stock_after, 0)""",
    # An attendance's points and minutes are what stands in the ledger for it, credited to its
    # person; an annulled one has nothing left standing.
    "attendance points or minutes differ from the ledger": Q.attendance_vs_ledger,
    # A verified report's points stand in the ledger for it, credited to its courier, through its
    # transfer_id; a pending or rejected one has none.
    "report points differ from the ledger": Q.report_vs_ledger,
    # A case's bonus stands in the ledger through its bonus_transfer_id, credited to its
    # reporter; and every standing points transfer a case caused is that case's bonus.
    "case bonus differs from the ledger": Q.case_bonus_vs_ledger,
    # Each redemption state has one state of its transfers (one per issuing community the points came
    # from): requested - held; approved or fulfilled - paid (standing); rejected or
    # cancelled - released; expired - released, or paid and every part refunded. Together they hold
    # or pay exactly the redemption's points.
    "redemption state differs from its transfer": Q.redemption_vs_transfers,
    # Each service state has one state of its hold: open - none; accepted or completed - held for the
    # estimate; confirmed - posted; cancelled - none, or released.
    "service state differs from its hold": Q.service_vs_hold,
    # And from the ledger's side: a hold is alive only while its redemption or service waits on it.
    "hold without a waiting redemption or service": """
        select t.id as transfer_id, t.cause_type, t.cause_id from transfers t
        where t.state = 'pending' and (
              (t.cause_type = 'redemption' and not exists (
                   select 1 from redemptions d where d.hold_transfer_id = t.id and d.state = 'requested'))
           or (t.cause_type = 'service' and not exists (
                   select 1 from service_requests s where s.hold_transfer_id = t.id
                   and s.state in ('accepted', 'completed'))))""",
    # Merchants: a merchant's account keeps no running balance; its balance, the sum of
    # its entries, is what it redeemed minus what it refunded, never below zero. A redemption's parts
    # are redemptions from the person's accounts into its merchant's account, summing to its points;
    # a refunded one has every part reversed, a standing one none.
    "merchant account balance is negative": """
        select a.id, a.partner_id, sum(e.amount) as balance from accounts a join entries e on e.account_id = a.id
        where a.kind = 'merchant' group by a.id, a.partner_id having sum(e.amount) < 0""",
    "merchant redemption differs from the ledger": Q.merchant_redemption_vs_ledger,
}


async def check(conn: asyncpg.Connection) -> dict[str, list[dict]]:
    """Every broken invariant with up to 20 offending rows; empty when the ledger is clean."""
    problems: dict[str, list[dict]] = {}
    async with conn.transaction(isolation="repeatable_read", readonly=True):  # one consistent snapshot
        for name, sql in CHECKS.items():
            rows = await conn.fetch(sql + " limit 20")
            if rows:
                problems[name] = [dict(r) for r in rows]
    return problems
