"""the reason an exam session was cancelled, beside the chain (issue 9)

``exam_sessions.cancel_reason``: the typed reason used to travel in the ``exam.cancelled``
event, whose payload is hash-chained and never purged; free text may name a pupil, so it is
kept on the session row, which the retention purge deletes ``exam_session_days`` after the
session ends. The event keeps the session id only.

Revision ID: 0008_trust2_exam_cancel_reason
Revises: 0007_exam_entries
Create Date: 2026-11-21 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008_trust2_exam_cancel_reason"
down_revision: str | None = "0007_exam_entries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exam_sessions") as batch:
        batch.add_column(sa.Column("cancel_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exam_sessions") as batch:
        batch.drop_column("cancel_reason")
