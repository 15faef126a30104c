"""indexes on the columns the hot paths filter holdings by

``holdings.pupil_id`` (offence count on every confiscation, release decision and pouch),
``holdings.exam_session_id`` (exam register, deposits, bulk hand-back) and
``holdings.locker_id`` (is the locker empty now). Without them each of those scanned every
holding of the school year (issue 15). Plain CREATE INDEX: no table rebuild, so the upgrade
is quick on a full ledger and needs no batch mode.

Revision ID: 0006_indexes
Revises: 0005_sync
Create Date: 2026-11-21 19:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_indexes"
down_revision: str | None = "0005_sync"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_holdings_pupil_id", "pupil_id"),
    ("ix_holdings_exam_session_id", "exam_session_id"),
    ("ix_holdings_locker_id", "locker_id"),
)


def upgrade() -> None:
    for name, column in INDEXES:
        op.create_index(name, "holdings", [column], unique=False)


def downgrade() -> None:
    for name, _column in reversed(INDEXES):
        op.drop_index(name, table_name="holdings")
