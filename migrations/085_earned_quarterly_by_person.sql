-- A work unit's ranking sums the quarter of each confirmed member of every unit of a street or
-- district (19,500 people for a district of 1,350 units at Meishan's size), one lookup by person
-- each. With the amount in the index those lookups are answered from the index alone (no visit to
-- the table's row): the district's unit ranking took a third of the time on the city bench. The
-- quarter comes before the unit so that one lookup reads a person's quarter in both units.
-- What it costs: an update of a row's amount is no longer a HOT update (it changes an indexed
-- column), so an award's upsert of its quarter writes an entry in each of the table's two indexes.
drop index earned_quarterly_user;
create index earned_quarterly_user on earned_quarterly (user_id, quarter, unit) include (earned);
