-- name: insert_report
insert into reports (courier_id, grid_id, community_id, kind, text, place, lat, lng, has_photo,
                     client_key, created_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
on conflict (courier_id, client_key) do nothing returning id;

-- name: insert_report_photo
insert into report_photos (report_id, jpeg, width, height) values ($1, $2, $3, $4);
