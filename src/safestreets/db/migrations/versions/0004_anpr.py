"""ANPR: hotlist entries, alerts, access authorisations (issue 19).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "anpr_hotlist",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("vehicle", sa.String(64), nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("added_by", sa.String(128), nullable=False),
        sa.Column("added_at", TS, nullable=False),
        sa.Column("removed_by", sa.String(128)),
        sa.Column("removed_at", TS),
    )
    op.create_index("ix_anpr_hotlist_vehicle", "anpr_hotlist", ["vehicle"])
    op.create_table(
        "anpr_alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "hotlist_id", sa.Integer, sa.ForeignKey("anpr_hotlist.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("vehicle", sa.String(64), nullable=False),
        sa.Column("read_at", TS, nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("arrived_at", TS, nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("acknowledged_by", sa.String(128)),
        sa.Column("acknowledged_at", TS),
        sa.UniqueConstraint("hotlist_id", "read_at", "camera_id", name="uq_anpr_alerts_read"),
    )
    op.create_index("ix_anpr_alerts_raised", "anpr_alerts", ["raised_at"])
    op.create_table(
        "anpr_access",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reach_from", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("granted_by", sa.String(128), nullable=False),
        sa.Column("granted_at", TS, nullable=False),
    )
    op.create_index("ix_anpr_access_user", "anpr_access", ["username"])


def downgrade() -> None:
    for table in ("anpr_access", "anpr_alerts", "anpr_hotlist"):
        op.drop_table(table)
