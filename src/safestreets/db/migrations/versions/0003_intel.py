"""Intel Community Reports: sealed reports, attachments, codename records and messages (issue 18).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intel_reporters",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("lookup", sa.String(64), nullable=False, unique=True),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("created_day", sa.Date, nullable=False),
    )
    op.create_table(
        "intel_reports",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column(
            "reporter_id",
            sa.String(24),
            sa.ForeignKey("intel_reporters.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("received_day", sa.Date, nullable=False),
        sa.Column("expires_day", sa.Date, nullable=False),
        sa.Column("sealed_key", sa.LargeBinary),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("danger_now", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("category", sa.String(32)),
        sa.Column("urgency", sa.String(16)),
        sa.Column("threat_to_life", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("area_code", sa.String(32)),
        sa.Column("area_kind", sa.String(16)),
        sa.Column("week", sa.Date),
        sa.Column("source_eval", sa.String(1)),
        sa.Column("intel_assessment", sa.String(1)),
        sa.Column("handling_code", sa.String(1)),
        sa.Column("handling_conditions", sa.Text),
        sa.Column("redacted", sa.LargeBinary),
        sa.Column("keep_reason", sa.Text),
    )
    op.create_index("ix_intel_reports_expires", "intel_reports", ["expires_day"])
    op.create_index("ix_intel_reports_area_week", "intel_reports", ["area_code", "week"])
    op.create_table(
        "intel_attachments",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column(
            "report_id", sa.String(24), sa.ForeignKey("intel_reports.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "intel_messages",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column(
            "report_id", sa.String(24), sa.ForeignKey("intel_reports.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("expires_day", sa.Date, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    for table in ("intel_messages", "intel_attachments", "intel_reports", "intel_reporters"):
        op.drop_table(table)
