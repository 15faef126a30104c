"""a user covers a set of schools (user_schools), every change recorded

A DSL or senior leader who covers several schools of a trust had only one ``school_id``.
The scope becomes a set: ``user_schools`` (one row per user and school) with an
append-only ``user_school_changes`` beside it (who added or removed which school, when).
Each user's ``school_id`` moves into the new table (recorded as added by this migration),
then the column is dropped, so there is one place that says which schools a user sees.

Revision ID: c0006
Revises: c0005
Create Date: 2026-11-21 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import central.models

revision: str = "c0006"
down_revision: str | None = "c0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_schools",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_user_schools_school_id_schools")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_schools_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "school_id", name=op.f("pk_user_schools")),
    )
    op.create_table(
        "user_school_changes",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("at", central.models.UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=10), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column("by_name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["users.id"], name=op.f("fk_user_school_changes_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_user_school_changes_school_id_schools")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_school_changes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_school_changes")),
    )
    with op.batch_alter_table("user_school_changes", schema=None) as batch_op:
        batch_op.create_index("ix_user_school_changes_user", ["user_id", "at"], unique=False)

    op.execute(
        "INSERT INTO user_schools (user_id, school_id) "
        "SELECT id, school_id FROM users WHERE school_id IS NOT NULL"
    )
    postgres = op.get_context().dialect.name == "postgresql"
    # UTC without a zone, as UTCDateTime stores it (SQLite's CURRENT_TIMESTAMP is UTC).
    utc_now = "(now() AT TIME ZONE 'UTC')" if postgres else "CURRENT_TIMESTAMP"
    op.execute(
        "INSERT INTO user_school_changes (at, user_id, school_id, change, by_user_id, by_name) "
        f"SELECT {utc_now}, id, school_id, 'added', NULL, 'migration c0006' "
        "FROM users WHERE school_id IS NOT NULL"
    )
    if postgres:
        op.drop_constraint("fk_users_school_id_schools", "users", type_="foreignkey")
        op.drop_column("users", "school_id")
        return
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("fk_users_school_id_schools", type_="foreignkey")
        batch_op.drop_column("school_id")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("school_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_users_school_id_schools", "schools", ["school_id"], ["id"]
        )
    # A user of several schools keeps the lowest-numbered one: the rest cannot be said
    # with one column.
    op.execute(
        "UPDATE users SET school_id = "
        "(SELECT MIN(school_id) FROM user_schools WHERE user_schools.user_id = users.id)"
    )
    op.drop_table("user_school_changes")
    op.drop_table("user_schools")
