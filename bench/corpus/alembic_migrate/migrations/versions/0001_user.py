"""create user"""
revision = "0001"
down_revision = None
from alembic import op
import sqlalchemy as sa


def upgrade():
    op.create_table("user", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50)))


def downgrade():
    op.drop_table("user")
