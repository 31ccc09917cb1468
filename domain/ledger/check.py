"""`linli ledger check`: verify every ledger invariant over the whole database.

Each query returns the rows that break one invariant; a clean ledger returns none for all.
"""

import asyncpg

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
    "unposted transfer with entries": """
        select t.id from transfers t join entries e on e.transfer_id = t.id where t.state <> 'posted'
        group by t.id""",
    "reversal that does not mirror its original": """
        select r.id from transfers r join transfers o on o.id = r.reverses
        where r.amount <> o.amount or r.debit_account <> o.credit_account or r.credit_account <> o.debit_account
           or r.unit <> o.unit or o.state <> 'posted' or o.kind = 'reversal' or r.state <> 'posted'""",
    # Maker-checker (issue 16): an approved adjustment request posted exactly its transfer, to its
    # person, by someone other than its maker; a pending or rejected one posted nothing.
    "adjustment request and its transfer disagree": """
        select r.id, r.state, r.transfer_id from adjustment_requests r
        left join transfers t on t.id = r.transfer_id
        left join accounts u on u.id = case when r.amount > 0 then t.credit_account else t.debit_account end
        where (r.state = 'approved' and (t.id is null or t.state <> 'posted' or t.kind <> 'adjustment'
                                         or t.amount <> abs(r.amount) or t.unit <> r.unit
                                         or u.user_id is distinct from r.user_id
                                         or t.actor_id is distinct from r.decided_by
                                         or r.decided_by = r.requested_by))
           or (r.state <> 'approved' and r.transfer_id is not null)""",
    "transfer between accounts of different units": """
        select t.id from transfers t join accounts d on d.id = t.debit_account
        join accounts c on c.id = t.credit_account where d.unit <> t.unit or c.unit <> t.unit""",
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
