"""A base's own figures for the year's official statistics (issue 16): annual_report, strategic_training.

The knowledge-update statistics (notice 004, attachment 3) ask for the special funds (专项经费, 万元) and the
department or institution that carries the work out; the major-projects statistics (attachment 4) for the
funds put in (投入经费) and, per strategic field, the people trained this year and planned for next, in total
and from the non-public sector (非公有制经济领域). The site counts none of these, so a base enters them for a
year: one annual_report row per base and year, one strategic_training row per field it reports (a field
without a row is zero). CHECK constraints keep the figures non-negative and the non-public part within its
total, as the service's refusals do. The unique keys lead with base_id and report_id, so no index of their
own. Downgrade drops both tables (and what bases entered in them).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'annual_report',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('base_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('department', sa.String(length=128), server_default='', nullable=False),
        sa.Column('knowledge_funding', sa.Numeric(precision=12, scale=2), server_default='0', nullable=False),
        sa.Column('knowledge_note', sa.String(length=255), server_default='', nullable=False),
        sa.Column('strategic_funding', sa.Numeric(precision=12, scale=2), server_default='0', nullable=False),
        sa.Column('strategic_note', sa.String(length=255), server_default='', nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('knowledge_funding >= 0 AND strategic_funding >= 0',
                           name=op.f('ck_annual_report_funding_not_negative')),
        sa.ForeignKeyConstraint(['base_id'], ['training_base.id'], name=op.f('fk_annual_report_base_id_training_base')),
        sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_annual_report_updated_by_id_user'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_annual_report')),
        sa.UniqueConstraint('base_id', 'year', name='base_year'),
    )
    op.create_table(
        'strategic_training',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('field', sa.String(length=32), nullable=False),
        sa.Column('trained', sa.Integer(), nullable=False),
        sa.Column('trained_non_public', sa.Integer(), nullable=False),
        sa.Column('planned', sa.Integer(), nullable=False),
        sa.Column('planned_non_public', sa.Integer(), nullable=False),
        sa.CheckConstraint('trained >= 0 AND trained_non_public >= 0 AND planned >= 0 AND planned_non_public >= 0',
                           name=op.f('ck_strategic_training_counts_not_negative')),
        sa.CheckConstraint('trained_non_public <= trained AND planned_non_public <= planned',
                           name=op.f('ck_strategic_training_non_public_within_total')),
        sa.ForeignKeyConstraint(['report_id'], ['annual_report.id'],
                                name=op.f('fk_strategic_training_report_id_annual_report'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_strategic_training')),
        sa.UniqueConstraint('report_id', 'field', name='report_field'),
    )


def downgrade():
    op.drop_table('strategic_training')
    op.drop_table('annual_report')
