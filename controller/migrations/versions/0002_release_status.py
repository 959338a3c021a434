"""Releases keep their deploy's outcome: status, status_detail (why it failed) and deploy_id.

Releases from before statuses were served, so they get 'succeeded' (the column's server default).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("status", sa.String(length=16), server_default="succeeded", nullable=False))
        batch.add_column(sa.Column("status_detail", sa.Text(), nullable=True))
        batch.add_column(sa.Column("deploy_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("deploy_id")
        batch.drop_column("status_detail")
        batch.drop_column("status")
