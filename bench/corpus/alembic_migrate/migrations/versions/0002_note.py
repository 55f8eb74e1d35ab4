"""create note"""
revision = "0002"
down_revision = "0001"
from alembic import op
import sqlalchemy as sa


def upgrade():
    op.create_table("note", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("user_id", sa.Integer, sa.ForeignKey("user.id")), sa.Column("body", sa.Text))
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("email", sa.String(100)))


def downgrade():
    with op.batch_alter_table("user") as batch:
        batch.drop_column("email")
    op.drop_table("note")
