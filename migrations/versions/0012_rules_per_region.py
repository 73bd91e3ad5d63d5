"""Rules per region and year, inherited from province to city (issue 14).

No rule applies everywhere any more: Yantai's competition caps (notice 004) belong to Yantai, the
province-level bases' targets Yantai's notice quotes (2000 / 3000 / 4) to Shandong, and the rubric, which no
notice states, is copied to every province as a default awaiting confirmation, with Henan's 退出 for a missed
target (notice 002). Caps gain a year. A rule set's conversions, plan window and review days may be left to
the province (NULL); the values no notice states are listed in ``unconfirmed``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

CONVERSIONS = ('hours_per_day', 'minutes_per_hour', 'plan_window_days', 'review_working_days')
CONVERSION_DEFAULTS = {'hours_per_day': 8, 'minutes_per_hour': 45, 'plan_window_days': 30, 'review_working_days': 5}
# What each notice states of the conversions: Guangdong 000 (8 h a day, 45 min an hour) and 001 (30 days);
# Henan 002 (5 working days). Every other value is a default the regulator is asked to confirm.
STATED_CONVERSIONS = {'440000': {'hours_per_day', 'minutes_per_hour', 'plan_window_days'},
                      '410000': {'review_working_days'}}
YANTAI, SHANDONG, HENAN = '370600', '370000', '410000'
RUBRIC_DEFAULTS = {'weight_trainees': 30, 'weight_projects': 20, 'weight_completion': 20, 'weight_rating': 15,
                   'weight_disclosure': 15, 'penalty_per_overdue_plan': 5, 'unrated_score': 60,
                   'keep_threshold': 75, 'exit_threshold': 50}
RUBRIC_FIELDS = tuple(RUBRIC_DEFAULTS) + ('missed_target_outcome',)
OUTCOME = sa.Enum('keep', 'rectify', 'exit', name='outcome', native_enum=False, length=32)

region = sa.table('region', sa.column('id', sa.Integer), sa.column('code', sa.String),
                  sa.column('level', sa.String))
rule_set = sa.table('rule_set', sa.column('id', sa.Integer), sa.column('region_id', sa.Integer),
                    sa.column('year', sa.Integer), sa.column('unconfirmed', sa.JSON),
                    *(sa.column(name, sa.Integer) for name in CONVERSIONS))
cap = sa.table('declaration_cap', sa.column('id', sa.Integer), sa.column('kind', sa.String),
               sa.column('category', sa.String), sa.column('region_id', sa.Integer), sa.column('year', sa.Integer),
               sa.column('max_hours', sa.Integer), sa.column('source', sa.String))
target = sa.table('target', sa.column('id', sa.Integer), sa.column('base_type', sa.String),
                  sa.column('year', sa.Integer), sa.column('region_id', sa.Integer))
rubric = sa.table('rubric', sa.column('id', sa.Integer), sa.column('region_id', sa.Integer),
                  sa.column('year', sa.Integer), sa.column('unconfirmed', sa.JSON),
                  sa.column('missed_target_outcome', sa.String),
                  *(sa.column(name, sa.Integer) for name in RUBRIC_DEFAULTS))


def _region_id(conn, code):
    return conn.scalar(sa.select(region.c.id).where(region.c.code == code))


def upgrade():
    conn = op.get_bind()

    # --- rule_set: conversions may be inherited; themes; the values no notice states ---------------------
    with op.batch_alter_table('rule_set', schema=None) as batch_op:
        for name in CONVERSIONS:
            batch_op.alter_column(name, existing_type=sa.Integer(), nullable=True, server_default=None)
        batch_op.add_column(sa.Column('public_themes', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('public_electives', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('unconfirmed', sa.JSON(), server_default='[]', nullable=False))
        batch_op.create_check_constraint(
            op.f('ck_rule_set_minimums_not_negative'),
            '(total_min IS NULL OR total_min >= 0) AND (public_min IS NULL OR public_min >= 0)'
            ' AND (professional_min IS NULL OR professional_min >= 0)'
            ' AND (elective_min IS NULL OR elective_min >= 0)')
    for region_id, code in conn.execute(sa.select(region.c.id, region.c.code)).all():
        stated = STATED_CONVERSIONS.get(code, set())
        conn.execute(rule_set.update().where(rule_set.c.region_id == region_id)
                     .values(unconfirmed=[name for name in CONVERSIONS if name not in stated]))

    # --- declaration_cap: a year, and a region for every row ----------------------------------------------
    with op.batch_alter_table('declaration_cap', schema=None) as batch_op:
        batch_op.add_column(sa.Column('year', sa.Integer(), nullable=True))
        batch_op.drop_constraint('kind_category_region', type_='unique')
    yantai = _region_id(conn, YANTAI)
    # The competition caps stored for everywhere are Yantai's (notice 004); without Yantai they belong nowhere.
    if yantai is None:
        conn.execute(cap.delete().where(cap.c.region_id.is_(None)))
    else:
        own = cap.alias('own')  # Yantai's own row, if it has one, wins over the general one
        conn.execute(cap.delete().where(cap.c.region_id.is_(None), sa.exists(
            sa.select(own.c.id).where(own.c.region_id == yantai, own.c.kind == cap.c.kind,
                                      own.c.category == cap.c.category))))
        conn.execute(cap.update().where(cap.c.region_id.is_(None)).values(region_id=yantai))
    # A cap held for every year: it now holds for each year the rules cover, and is written once per year.
    years = sorted(set(conn.execute(sa.select(rule_set.c.year)).scalars())
                   | set(conn.execute(sa.select(rubric.c.year)).scalars()))
    rows = conn.execute(sa.select(cap)).mappings().all()
    if not years:
        conn.execute(cap.delete())
    for row in rows:
        if not years:
            break
        conn.execute(cap.update().where(cap.c.id == row['id']).values(year=years[0]))
        for year in years[1:]:
            conn.execute(cap.insert().values(kind=row['kind'], category=row['category'], region_id=row['region_id'],
                                             year=year, max_hours=row['max_hours'], source=row['source']))
    with op.batch_alter_table('declaration_cap', schema=None) as batch_op:
        batch_op.alter_column('year', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('region_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint('kind_category_region_year', ['kind', 'category', 'region_id', 'year'])
        batch_op.create_check_constraint(op.f('ck_declaration_cap_max_not_negative'), 'max_hours >= 0')

    # --- target: the general rows are Shandong's (the province's 考核要求 that notice 004 quotes) --------
    shandong = _region_id(conn, SHANDONG)
    if shandong is not None:
        own = target.alias('own')
        conn.execute(target.delete().where(target.c.region_id.is_(None), sa.exists(
            sa.select(own.c.id).where(own.c.region_id == shandong, own.c.base_type == target.c.base_type,
                                      own.c.year == target.c.year))))
        conn.execute(target.update().where(target.c.region_id.is_(None)).values(region_id=shandong))
    conn.execute(target.delete().where(target.c.region_id.is_(None)))
    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.alter_column('region_id', existing_type=sa.Integer(), nullable=False)

    # --- rubric: per region; no notice states it, so every province gets it as a default to confirm ------
    with op.batch_alter_table('rubric', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('missed_target_outcome', OUTCOME, nullable=True))
        batch_op.add_column(sa.Column('unconfirmed', sa.JSON(), server_default='[]', nullable=False))
        batch_op.drop_constraint(op.f('uq_rubric_year'), type_='unique')
        for name in RUBRIC_DEFAULTS:
            batch_op.alter_column(name, existing_type=sa.Integer(), nullable=True)
    provinces = conn.execute(sa.select(region.c.id, region.c.code).where(region.c.level == 'province')).all()
    for row in conn.execute(sa.select(rubric)).mappings().all():
        for province_id, code in provinces:
            outcome = 'exit' if code == HENAN else 'rectify'  # 002: 不能完成培训任务的，取消其基地资格
            unconfirmed = [f for f in RUBRIC_FIELDS if not (code == HENAN and f == 'missed_target_outcome')]
            conn.execute(rubric.insert().values(
                region_id=province_id, year=row['year'], missed_target_outcome=outcome, unconfirmed=unconfirmed,
                **{name: row[name] for name in RUBRIC_DEFAULTS}))
    conn.execute(rubric.delete().where(rubric.c.region_id.is_(None)))
    with op.batch_alter_table('rubric', schema=None) as batch_op:
        batch_op.alter_column('region_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(op.f('fk_rubric_region_id_region'), 'region', ['region_id'], ['id'])
        batch_op.create_unique_constraint('rubric_region_year', ['region_id', 'year'])


def downgrade():
    conn = op.get_bind()

    # rubric: one row a year again, the values of the first province's row (defaults where it left one open).
    kept = {}
    for row in conn.execute(sa.select(rubric).order_by(rubric.c.region_id)).mappings().all():
        kept.setdefault(row['year'], row)
    conn.execute(rubric.delete().where(rubric.c.id.not_in([row['id'] for row in kept.values()] or [0])))
    for row in kept.values():
        conn.execute(rubric.update().where(rubric.c.id == row['id']).values(
            **{name: row[name] if row[name] is not None else default for name, default in RUBRIC_DEFAULTS.items()}))
    with op.batch_alter_table('rubric', schema=None) as batch_op:
        batch_op.drop_constraint('rubric_region_year', type_='unique')
        batch_op.drop_constraint(op.f('fk_rubric_region_id_region'), type_='foreignkey')
        for name in RUBRIC_DEFAULTS:
            batch_op.alter_column(name, existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('unconfirmed')
        batch_op.drop_column('missed_target_outcome')
        batch_op.drop_column('region_id')
        batch_op.create_unique_constraint(op.f('uq_rubric_year'), ['year'])

    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.alter_column('region_id', existing_type=sa.Integer(), nullable=True)

    # declaration_cap: one row per kind, category and region, the latest year's.
    latest = {}
    for row in conn.execute(sa.select(cap).order_by(cap.c.year)).mappings().all():
        latest[(row['kind'], row['category'], row['region_id'])] = row['id']
    conn.execute(cap.delete().where(cap.c.id.not_in(list(latest.values()) or [0])))
    with op.batch_alter_table('declaration_cap', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_declaration_cap_max_not_negative'), type_='check')
        batch_op.drop_constraint('kind_category_region_year', type_='unique')
        batch_op.alter_column('region_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_column('year')
        batch_op.create_unique_constraint('kind_category_region', ['kind', 'category', 'region_id'])

    # rule_set: a region's conversions are its own again (the defaults where it left one to its province).
    for name, default in CONVERSION_DEFAULTS.items():
        conn.execute(rule_set.update().where(rule_set.c[name].is_(None)).values({name: default}))
    with op.batch_alter_table('rule_set', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_rule_set_minimums_not_negative'), type_='check')
        batch_op.drop_column('unconfirmed')
        batch_op.drop_column('public_electives')
        batch_op.drop_column('public_themes')
        for name, default in CONVERSION_DEFAULTS.items():
            batch_op.alter_column(name, existing_type=sa.Integer(), nullable=False, server_default=str(default))
