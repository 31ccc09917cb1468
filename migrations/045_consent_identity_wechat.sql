-- Reach (issue 36): privacy notices and consent (PIPL), the real name (身份证号, encrypted) and the
-- national volunteer number, guardians of minors, and WeChat sign-in by the OAuth web flow.

-- The notice text an admin edits: every edit is a new version; the highest version is current.
-- 'privacy' is shown at registration; 'id_number' before a person adds their ID number;
-- 'guardian' before a guardian registers a minor (separate consent for sensitive items).
create table privacy_notices (
    id         bigint generated always as identity primary key,
    kind       text not null check (kind in ('privacy', 'id_number', 'guardian')),
    version    integer not null check (version >= 1),
    body       text not null check (length(body) between 20 and 20000),
    created_by bigint references users (id),
    created_at timestamptz not null,
    unique (kind, version)
);

insert into privacy_notices (kind, version, body, created_at) values
('privacy', 1, '邻里个人信息保护告知书（第 1 版）
一、我们收集什么：您的手机号、姓名，您参加志愿服务的签到记录、积分与时长、兑换记录；您自愿填写的身份证号和志愿者编号另行征得您的同意。
二、为什么收集：用于登录、记录志愿服务时长、发放和兑换积分、出具服务证明，以及按《志愿服务条例》向全国志愿服务信息系统报送记录。
三、保存多久：账号存续期间保存；您注销账号后，姓名和手机号立即删除，积分流水按财务要求匿名保留。
四、谁能看到：您本人；您所在社区的管理员（手机号仅本社区管理员可见，身份证号任何人只见打码）；街道和区的管理员只看汇总。
五、如何撤回：您可随时在“我的”页面下载全部数据或注销账号，注销即撤回同意。', now()),
('id_number', 1, '身份证号单独同意（第 1 版）
您填写的身份证号仅用于志愿服务证明和保险投保，加密保存；除您本人外，管理员、导出文件和证明上只显示打码后的号码。您可随时删除。', now()),
('guardian', 1, '监护人同意（第 1 版）
未满 18 周岁的志愿者须由监护人代为注册并同意本告知书。监护人可以查看和管理未成年人的账号，并可随时为其注销账号。', now());

-- Every consent given, never updated: the history is the record (shown in the person's export).
create table consents (
    id       bigint generated always as identity primary key,
    user_id  bigint not null references users (id),
    kind     text not null check (kind in ('privacy', 'id_number', 'guardian')),
    version  integer not null check (version >= 1),
    given_at timestamptz not null,
    given_by bigint references users (id),        -- the guardian, when a guardian consented for a minor
    foreign key (kind, version) references privacy_notices (kind, version)
);
create index consents_user on consents (user_id, kind, version desc);

-- Real name and volunteer number. The ID number is AES-GCM ciphertext (key from LINLI_ID_KEY,
-- bound to the user id); only its masked form is readable here. `record_key` is the key a record
-- export used for a person without a national number, kept when the export is restored elsewhere.
create table identities (
    user_id          bigint primary key references users (id),
    id_number_enc    bytea,
    id_number_masked text check (length(id_number_masked) = 18),
    birth_date       date,
    volunteer_number text unique check (volunteer_number ~ '^[A-Za-z0-9-]{4,32}$'),
    record_key       text unique check (length(record_key) between 1 and 40),
    updated_at       timestamptz not null,
    -- a restored record export brings the masked number only: the person adds the full one again
    check (id_number_enc is null or id_number_masked is not null)
);

-- A guardian registers and manages a minor's account.
create table guardianships (
    minor_id    bigint primary key references users (id),
    guardian_id bigint not null references users (id),
    created_at  timestamptz not null
);
create index guardianships_guardian on guardianships (guardian_id);

-- WeChat OAuth (网页授权): an openid the server exchanged from a code, waiting (10 minutes) for the
-- person to prove a phone once. The browser holds the ticket in an HttpOnly cookie; only its hash is here.
create table wechat_tickets (
    token_hash bytea primary key,
    openid     text not null check (length(openid) between 1 and 128),
    created_at timestamptz not null,
    expires_at timestamptz not null,
    used_at    timestamptz
);

-- Bindings made by PUT /api/me/messages/wechat were never proven (any openid the client sent):
-- with WeChat sign-in they would let that openid's owner into the account. Only a code the server
-- exchanged binds an openid now, once per openid.
delete from wechat_bindings;
alter table wechat_bindings add column bound_at timestamptz;
create unique index wechat_bindings_openid on wechat_bindings (openid);

insert into audit_acts (act) values ('privacy_notice'), ('minor_register')
on conflict do nothing;
