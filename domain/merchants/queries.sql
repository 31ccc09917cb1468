-- name: merchant_with_names
select p.id, p.name, m.category, m.address, m.contact_phone, p.parent_id, po.name as parent_name,
       m.settles_with, so.name as settles_with_name, m.suspended_at, m.suspend_reason,
       (select count(*) from partner_staff s where s.partner_id = p.id)::int as staff,
       (select s.role from partner_staff s where s.partner_id = p.id and s.user_id = $1) as my_role,
       array(select c.community_id from merchant_communities c where c.partner_id = p.id
             order by c.community_id) as communities,
       array(select o.name from merchant_communities c join orgs o on o.id = c.community_id
             where c.partner_id = p.id order by c.community_id) as community_names,
       (select a.id from accounts a where a.partner_id = p.id and a.kind = 'merchant') as account_id
from partners p join merchants m on m.partner_id = p.id
join orgs po on po.id = p.parent_id join orgs so on so.id = m.settles_with;

-- name: merchant_issuers
select m.partner_id as merchant_id, a.org_id as issuer_id, o.name as issuer_name,
      count(*) filter (where t.credit_account = m.id)::int as redemptions,
      sum(case when t.credit_account = m.id then t.amount else -t.amount end)::bigint as points
 from accounts m
 join transfers t on (t.credit_account = m.id or t.debit_account = m.id) and t.state = 'posted'
 join accounts a on a.id = case when t.credit_account = m.id then t.debit_account else t.credit_account end
 join orgs o on o.id = a.org_id
where m.kind = 'merchant' and m.partner_id = any($1::bigint[])
  and t.created_at >= $2 and t.created_at < $3
group by 1, 2, 3 order by 1, 2;
