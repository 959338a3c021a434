"""Builds keep what their image says: the web port (its first exposed TCP port) and whether it has an
ENTRYPOINT. Both nullable: builds from before this revision run as they did (port 5000, ``sh -c``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("builds") as batch:
        batch.add_column(sa.Column("port", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("entrypoint", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("builds") as batch:
        batch.drop_column("entrypoint")
        batch.drop_column("port")
