"""events refer to their station and school by one key

An event's (station_pk, school_id) must be a station and that station's school: one
composite foreign key instead of two single ones. Stronger (an event can no longer name a
school other than its station's) and cheaper at ingest: one check per row instead of two,
on the station's row (which the ingest holds locked) rather than the school's, which every
station of the school shared (each concurrent batch key-share locked it).
See docs/BENCHMARKS.md, "Central log".

Revision ID: c0004
Revises: c0003
Create Date: 2026-11-21 22:22:31.490473
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c0004"
down_revision: str | None = "c0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_stations_id_school", ["id", "school_id"])
    if op.get_context().dialect.name == "postgresql":
        # NOT VALID, then VALIDATE: the check of the rows already held runs without
        # blocking new batches (VALIDATE takes only a SHARE UPDATE EXCLUSIVE lock).
        op.create_foreign_key(
            "fk_events_station_school",
            "events",
            "stations",
            ["station_pk", "school_id"],
            ["id", "school_id"],
            postgresql_not_valid=True,
        )
        op.execute("ALTER TABLE events VALIDATE CONSTRAINT fk_events_station_school")
        op.drop_constraint("fk_events_station_pk_stations", "events", type_="foreignkey")
        op.drop_constraint("fk_events_school_id_schools", "events", type_="foreignkey")
        return
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("fk_events_station_pk_stations", type_="foreignkey")
        batch_op.drop_constraint("fk_events_school_id_schools", type_="foreignkey")
        batch_op.create_foreign_key(
            "fk_events_station_school", "stations", ["station_pk", "school_id"], ["id", "school_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("fk_events_station_school", type_="foreignkey")
        batch_op.create_foreign_key(
            "fk_events_school_id_schools", "schools", ["school_id"], ["id"]
        )
        batch_op.create_foreign_key(
            "fk_events_station_pk_stations", "stations", ["station_pk"], ["id"]
        )
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.drop_constraint("uq_stations_id_school", type_="unique")
