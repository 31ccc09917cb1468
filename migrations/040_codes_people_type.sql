-- Codes people type (issue 33, finding 6): a printed code is shown upper case in groups, and people
-- type what they see: 1 for l or I, 0 for O. A code that matches nothing exactly is looked up once
-- more with those look-alikes folded together (domain/checkin/codes.py find); this index keeps that
-- second look-up as cheap as the first. Every printed code stays valid: the exact match comes first.
create index if not exists codes_lookalike on codes (translate(code, 'i10', 'llo'));
