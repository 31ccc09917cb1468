"""Partner organisations (伙伴单位): departments, property companies, work units and (later) merchants,
invited by a street or a community, with their own staff. Built once for every kind of partner: the
grid loop's handlers use it (domain/cases), merchants will too.

The code is in `service.py` (and the package's other modules); this file only re-exports it, so
`from domain.partners import x` keeps working."""


from domain.partners.service import (  # noqa: F401
    _INVITATION,
    _SELECT,
    KINDS,
    ROLES,
    InvitationList,
    Partner,
    PartnerInvitation,
    _community_of,
    _invitation,
    _parent,
    _reads_street,
    answer,
    create,
    get,
    invite,
    list_partners,
    my_invitations,
    require_parent_manager,
    staff_role,
)
