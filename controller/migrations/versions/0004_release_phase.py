"""Builds keep their release command (the Procfile's ``release:``) and the sections of app.json the
platform uses; a release keeps the image its predeploy script made (None: the build's image).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("builds") as batch:
        batch.add_column(sa.Column("release_command", sa.Text(), nullable=True))
        batch.add_column(sa.Column("app_json", sa.JSON(), nullable=True))
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("image", sa.String(512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("image")
    with op.batch_alter_table("builds") as batch:
        batch.drop_column("app_json")
        batch.drop_column("release_command")
