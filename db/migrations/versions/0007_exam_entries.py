"""exam entries, refused collections, holdings to check after a forced open (issue 14)

``pupils.candidate_number`` (from ``kiosk import exams``, shown with the pouch);
``holdings.check_required_since`` (a locker forced open with a phone inside: the next staff
sign-in confirms it is there or records it missing); ``refused_collections`` (an adult
refused at the hatch, kept off the hash chain so retention can remove the name given).

Revision ID: 0007_exam_entries
Revises: 0006_indexes
Create Date: 2026-11-21 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import db.base
from alembic import op

revision: str = "0007_exam_entries"
down_revision: str | None = "0006_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pupils") as batch:
        batch.add_column(sa.Column("candidate_number", sa.String(20), nullable=True))
    with op.batch_alter_table("holdings") as batch:
        batch.add_column(sa.Column("check_required_since", db.base.UTCDateTime(), nullable=True))
    op.create_table(
        "refused_collections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "holding_id", sa.Integer(), sa.ForeignKey("holdings.id", ondelete="SET NULL")
        ),
        sa.Column("pupil_id", sa.Integer(), sa.ForeignKey("pupils.id", ondelete="SET NULL")),
        sa.Column("name_given", sa.String(200), nullable=False),
        sa.Column("id_type_seen", sa.String(40), nullable=True),
        sa.Column("barred", sa.Boolean(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("refused_at", db.base.UTCDateTime(), nullable=False),
        sa.Column("refused_by_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
    )
    op.create_index("ix_refused_collections_refused_at", "refused_collections", ["refused_at"])


def downgrade() -> None:
    op.drop_index("ix_refused_collections_refused_at", table_name="refused_collections")
    op.drop_table("refused_collections")
    with op.batch_alter_table("holdings") as batch:
        batch.drop_column("check_required_since")
    with op.batch_alter_table("pupils") as batch:
        batch.drop_column("candidate_number")
