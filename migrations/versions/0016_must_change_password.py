"""One-time passwords must be changed at first sign-in (issue 18).

- user.must_change_password: set when someone else chose the account's password (a regulator made by the
  platform administrator, a sector officer, an employer's reviewer, a base admin made by a designation);
  cleared when the owner changes it. Existing accounts get false (server default): who typed their passwords
  is not recorded, and forcing every account to change would lock out the demo and the staff now at work.

Downgrade drops the column (which accounts still held a one-time password is lost).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
