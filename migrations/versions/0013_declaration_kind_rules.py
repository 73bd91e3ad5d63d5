"""The kinds of declared learning per region and year (issue 14): declaration_kind_rule.

Which kinds a region accepts, the categories each may be declared as and the fewest days a kind counted in
days may be declared for were one list in code for every region (services.declarations.KIND_RULES), with
Chengdu's 20 days abroad (notice 003) applied everywhere. They are now rows per region, year and kind, each
column NULL where the region sets nothing (a city inherits its province's; where neither sets one, every
kind is accepted with the general categories, shown as 默认值，待确认, and no minimum of days applies).

The migration creates the structure; the rows are reference data the seed writes (flask seed, from
data/declaration-kinds.csv), as migration 0012 left the rules' values to it. How a kind is measured (minutes,
days, hours) is its nature and stays in code. Downgrade drops the table: the code before it has the list.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'declaration_kind_rule',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum('conference', 'competition', 'abroad', 'research', 'degree', 'self_study',
                                  'grassroots', 'other', name='declarationkind', native_enum=False,
                                  create_constraint=False, length=32), nullable=False),
        sa.Column('accepted', sa.Boolean(), nullable=True),
        sa.Column('categories', sa.JSON(), nullable=True),
        sa.Column('min_days', sa.Integer(), nullable=True),
        sa.Column('unconfirmed', sa.JSON(), server_default='[]', nullable=False),
        sa.Column('source', sa.String(length=255), server_default='', nullable=False),
        sa.CheckConstraint('min_days IS NULL OR (min_days >= 0 AND min_days <= 366)',
                           name=op.f('ck_declaration_kind_rule_min_days_in_range')),
        sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_declaration_kind_rule_region_id_region')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_declaration_kind_rule')),
        sa.UniqueConstraint('region_id', 'year', 'kind', name='region_year_kind'),
    )


def downgrade():
    op.drop_table('declaration_kind_rule')
