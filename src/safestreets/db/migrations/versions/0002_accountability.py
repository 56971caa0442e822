"""Accountability registers: operations (versioned), their tallies, Section 60 authorisations.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
TALLIES = ("knives", "weapons", "drugs", "arrests", "community_events", "sweeps", "searches", "visits")


def upgrade() -> None:
    op.create_table(
        "operations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "operation_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("operation_id", sa.Integer, sa.ForeignKey("operations.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("areas", sa.Text, nullable=False),
        sa.Column("tactics", sa.Text, nullable=False),
        sa.Column("plan_id", sa.Integer),
        sa.Column("notes", sa.Text, nullable=False, server_default=""),
        sa.Column("entered_by", sa.String(128), nullable=False),
        sa.Column("entered_at", TS, nullable=False),
        sa.UniqueConstraint("operation_id", "version", name="uq_operation_version"),
    )
    op.create_table(
        "operation_tallies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("operation_id", sa.Integer, sa.ForeignKey("operations.id"), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("bcu", sa.String(64), nullable=False, server_default=""),
        sa.Column("tactic", sa.String(64), nullable=False, server_default=""),
        *[sa.Column(name, sa.Integer, nullable=False, server_default="0") for name in TALLIES],
        sa.Column("replaces", sa.Integer, sa.ForeignKey("operation_tallies.id")),
        sa.Column("source", sa.String(255), nullable=False, server_default=""),
        sa.Column("entered_by", sa.String(128), nullable=False),
        sa.Column("entered_at", TS, nullable=False),
    )
    op.create_index("ix_operation_tallies_operation", "operation_tallies", ["operation_id", "day"])
    op.create_table(
        "s60_authorisations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reference", sa.String(64), nullable=False, server_default=""),
        sa.Column("place", sa.String(200), nullable=False, server_default=""),
        sa.Column("lon", sa.Float),
        sa.Column("lat", sa.Float),
        sa.Column("radius_m", sa.Float),
        sa.Column("polygon_wkt", sa.Text),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("authorised_by", sa.String(128), nullable=False),
        sa.Column("rank", sa.String(64), nullable=False),
        sa.Column("extensions", sa.Text, nullable=False, server_default="[]"),
        sa.Column("grounds", sa.Text, nullable=False),
        sa.Column("incident", sa.Text, nullable=False, server_default=""),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("problems", sa.Text, nullable=False, server_default="[]"),
        sa.Column("entered_by", sa.String(128), nullable=False),
        sa.Column("entered_at", TS, nullable=False),
    )
    op.create_index("ix_s60_starts_at", "s60_authorisations", ["starts_at"])


def downgrade() -> None:
    op.drop_index("ix_s60_starts_at", "s60_authorisations")
    op.drop_table("s60_authorisations")
    op.drop_index("ix_operation_tallies_operation", "operation_tallies")
    for table in ("operation_tallies", "operation_versions", "operations"):
        op.drop_table(table)
