"""Demo data for `flask seed-demo`: the regions and bases of the notices, their admins and courses, and
(seeding.history) a year of history behind them.

Idempotent: every row is looked up by its natural key first and left alone when it exists, so running it
again (as `make run` does each time) adds nothing and overwrites no edit made in the site.

The institutions are real (the notices name them); everything said about them here is made up, and the
site says so in demo mode (config.DEMO_MODE). China reserves no telephone numbers for fiction, so every
made-up number is in the 154 mobile segment, which the ministry (MIIT) has never allocated to an operator
(DEMO_PHONE_PREFIX): no subscriber can hold one, and it still passes the site's mobile-number check.
"""

import csv
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from extensions import db
from models import (
    BaseMembership,
    BaseType,
    CalendarDay,
    CalendarDayKind,
    Category,
    ClassPlan,
    Course,
    CourseStatus,
    DeclarationCap,
    DeclarationKind,
    DeclarationKindRule,
    Employer,
    Enrollment,
    Mode,
    Outcome,
    PlanStatus,
    Region,
    RegionLevel,
    Role,
    Rubric,
    RuleSet,
    Target,
    TrainingBase,
    User,
)
from models._common import utcnow
from models.course import IN_PERSON_MODES
from seeding import history, messaging, organisations
from seeding.history import DESIGNATED
from services import resident_ids, rules
from services.courses import refresh_search_tokens
from services.infra import clock

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
# bandit B105: the published password of the demo accounts (README), not a secret.
DEMO_PASSWORD = "Jidi-demo-2026"  # nosec B105
# 154: a mobile segment never allocated (see the module's docstring); no real subscriber has these numbers.
DEMO_PHONE_PREFIX = "154"
DEMO_LEARNER_PHONE = DEMO_PHONE_PREFIX + "00000001"
RUBRIC_YEARS = (2025, 2026, 2027)
DEMO_EMPLOYERS = (
    ("成都市第一人民医院", "510100"), ("成都市第三人民医院", "510100"), ("成都高新区社区卫生服务中心", "510100"),
    ("烟台市芝罘区人民医院", "370600"), ("烟台市农业技术推广中心", "370600"), ("郑州市中心医院", "410100"),
)
DEMO_REVIEWERS = (
    ("reviewer.cd1@jidi.demo", "成都市第一人民医院 人事科 周老师", "成都市第一人民医院"),
    ("reviewer.cd3@jidi.demo", "成都市第三人民医院 人事科 吴老师", "成都市第三人民医院"),
    ("reviewer.yt@jidi.demo", "烟台市芝罘区人民医院 人事科 郑老师", "烟台市芝罘区人民医院"),
    ("reviewer.zz@jidi.demo", "郑州市中心医院 人事处 韩老师", "郑州市中心医院"),
)

# Regions of the four notices (GB/T 2260 codes): Guangdong (000, 001), Henan (002), Chengdu (003), Yantai (004).
REGIONS = (
    ("440000", "广东省", None), ("440100", "广州市", "440000"),
    ("410000", "河南省", None), ("410100", "郑州市", "410000"),
    ("510000", "四川省", None), ("510100", "成都市", "510000"),
    ("370000", "山东省", None), ("370600", "烟台市", "370000"),
)
CITY_CODES = {"成都市": "510100", "烟台市": "370600"}

# Keeps the national holiday calendar; belongs to no region.
PLATFORM_ADMIN = ("admin@jidi.demo", "平台管理员 孙工")
REGULATORS = (
    ("regulator.chengdu@jidi.demo", "成都市人社局 王科长", "510100"),
    ("regulator.yantai@jidi.demo", "烟台市人社局 李科长", "370600"),
    ("regulator.shandong@jidi.demo", "山东省人社厅 赵处长", "370000"),
    ("regulator.zhengzhou@jidi.demo", "郑州市人社局 刘科长", "410100"),
)


@dataclass(frozen=True)
class CourseIdea:
    title: str
    category: Category
    field: str
    mode: Mode
    days: int  # length in days; a self-paced course runs for this many days at the learner's pace
    hours: int
    description: str
    audience: str = "全市专业技术人员"


_idea = CourseIdea  # the tables below read one course per line


P, S, E = Category.PUBLIC, Category.PROFESSIONAL, Category.ELECTIVE
# Online courses are self-paced learning platforms (notices 003, 004) but for two live ones.
ON, LIVE, OFF, MIX = Mode.SELF_PACED, Mode.ONLINE_LIVE, Mode.FACE_TO_FACE, Mode.BLENDED

PUBLIC_CHENGDU = (
    _idea("人工智能与健康", P, "信息", ON, 60, 30,
          "年度公需科目主题课程：人工智能在医疗影像、健康管理和公共卫生中的应用，数据安全与伦理。"),
    _idea("5G+智慧城市建设与应用", P, "信息", ON, 60, 30,
          "年度公需科目主题课程：5G 网络技术基础，5G 在智慧交通、智慧政务和工业互联网中的应用案例。"),
)
PUBLIC_YANTAI = (
    _idea("专业技术人员职业道德与能力建设", P, "其他现代服务业", ON, 60, 30,
          "公需科目：职业道德规范、科研诚信、创新能力与团队协作。线上学习，学完通过考试取得合格证书。"),
    _idea("数字经济与数字化转型", P, "信息", ON, 60, 30,
          "公需科目：数字经济政策、企业数字化转型路径、数据要素与数字政府建设。"),
)
ELECTIVES = (
    _idea("职场心理健康与压力管理", E, "其他现代服务业", LIVE, 1, 6, "线上直播讲座：情绪识别、压力调适与心理危机干预的基本方法。"),
    _idea("公文写作与沟通表达", E, "宣传文化", OFF, 1, 8, "常用公文的格式规范与写作要点，工作汇报与跨部门沟通。"),
)

# Professional courses by the kind of base, found from words in its name.
PROFESSIONAL = (
    (("医院", "医疗", "公共卫生", "妇女儿童"), (
        _idea("临床护理质量与患者安全", S, "卫生", OFF, 3, 24,
              "护理质量敏感指标、不良事件上报与根因分析、患者安全目标落实。", "护理人员"),
        _idea("急危重症护理新进展", S, "卫生", OFF, 2, 16, "重症监护、气道管理与血流动力学监测的护理要点。", "护理人员"),
        _idea("医院感染预防与控制", S, "卫生", MIX, 5, 12, "手卫生、多重耐药菌防控与医疗废物管理。", "医务人员"),
        _idea("老年慢性病健康管理", S, "养老", OFF, 2, 16, "高血压、糖尿病等慢性病的社区随访与健康教育。", "医务人员"),
    )),
    (("急救",), (
        _idea("院前急救与心肺复苏规范化培训", S, "卫生", OFF, 2, 16, "院前急救流程、心肺复苏与自动体外除颤器使用。", "急救人员"),
        _idea("突发公共事件紧急医学救援", S, "卫生", OFF, 3, 24, "批量伤员检伤分类、现场指挥与协同救援。", "急救人员"),
    )),
    (("农业",), (
        _idea("设施蔬菜绿色高效栽培技术", S, "现代农业", OFF, 3, 24, "设施环境调控、水肥一体化与绿色防控。", "农业技术人员"),
        _idea("果树病虫害绿色防控", S, "现代农业", OFF, 2, 16, "苹果、大樱桃主要病虫害识别与综合防治。", "农业技术人员"),
        _idea("农产品质量安全与追溯", S, "食品安全", MIX, 10, 20, "农产品质量安全标准、检测与追溯体系建设。", "农业技术人员"),
        _idea("乡村振兴与新型农业经营主体培育", S, "现代农业", OFF, 3, 24, "家庭农场、合作社经营管理与品牌建设。"),
    )),
    (("城建", "建筑"), (
        _idea("装配式建筑施工技术与质量控制", S, "城市规划建设管理", OFF, 3, 24, "预制构件安装、节点连接与质量验收。", "建设工程技术人员"),
        _idea("绿色建材检测与应用", S, "新材料", OFF, 2, 16, "绿色建材评价标准、检测方法与工程应用。", "建设工程技术人员"),
        _idea("城市更新与海绵城市建设", S, "城市规划建设管理", MIX, 5, 20, "城市更新政策、海绵城市设施设计与运维。"),
    )),
    (("质量",), (
        _idea("计量器具检定与校准实务", S, "装备制造", OFF, 3, 24, "计量法规、检定规程与测量不确定度评定。", "计量检测人员"),
        _idea("食品安全标准与检验检测", S, "食品安全", OFF, 2, 16, "食品安全国家标准体系、抽样与检验方法。", "检验检测人员"),
        _idea("特种设备安全管理", S, "装备制造", OFF, 2, 16, "锅炉、压力容器、电梯的安全管理与隐患排查。"),
    )),
    (("社会组织", "社工"), (
        _idea("社区社会工作实务与案例", S, "社会工作", OFF, 2, 16, "个案、小组与社区工作方法，典型案例研讨。", "社会工作者"),
        _idea("社会组织财务管理与规范运作", S, "会计", OFF, 1, 8, "非营利组织会计制度、项目资金管理与信息公开。"),
        _idea("居家养老服务与社区照护", S, "养老", MIX, 10, 20, "居家养老服务规范、失能老人照护与资源链接。"),
    )),
    (("军地",), (
        _idea("退役军人职业规划与就业指导", S, "人力资源服务", OFF, 2, 16, "职业测评、岗位匹配与就业创业政策解读。"),
        _idea("人力资源管理数字化实务", S, "人力资源服务", ON, 30, 20, "人力资源信息系统、数据分析与绩效管理。"),
    )),
    (("国信安", "网络", "东软"), (
        _idea("网络安全等级保护 2.0 实务", S, "信息", OFF, 3, 24, "等级保护测评要求、安全建设整改与应急响应。", "信息技术人员"),
        _idea("云计算与大数据平台运维", S, "信息", MIX, 10, 30, "容器、虚拟化与大数据平台的部署、监控和运维。", "信息技术人员"),
        _idea("人工智能应用开发实践", S, "信息", LIVE, 5, 30, "线上直播实训：机器学习基础、大模型应用开发与部署。", "信息技术人员"),
    )),
    (("商务",), (
        _idea("跨境电子商务运营实务", S, "商务服务", MIX, 10, 24, "跨境电商平台规则、选品、物流与支付结算。"),
        _idea("现代物流与供应链管理", S, "现代物流", OFF, 3, 24, "仓储配送、供应链协同与物流信息化。"),
    )),
    (("大学", "学院"), (
        _idea("高校课程思政教学设计", S, "教育", OFF, 2, 16, "课程思政元素挖掘、教学设计与案例展示。", "高校教师"),
        _idea("大数据分析与 Python 实践", S, "信息", MIX, 10, 30, "数据清洗、统计分析与可视化实践。"),
        _idea("数字金融与风险管理", S, "金融", OFF, 2, 16, "数字支付、金融科技监管与信用风险管理。"),
        _idea("会计信息化与智能财务", S, "会计", ON, 30, 20, "财务共享、电子发票与智能财务系统应用。", "会计人员"),
    )),
)

START_OFFSETS = (-3, 6, 13, 20, 27, 34, 41, 55, 68)


def _professional_for(name: str) -> tuple[CourseIdea, ...]:
    for words, ideas in PROFESSIONAL:
        if any(word in name for word in words):
            return ideas
    return PROFESSIONAL[-1][1]


def _ideas_for(index: int, name: str, city: str) -> list[CourseIdea]:
    publics = PUBLIC_CHENGDU if city == "成都市" else PUBLIC_YANTAI
    professional = _professional_for(name)
    ideas = [publics[index % len(publics)]]
    ideas += [professional[(index + k) % len(professional)] for k in range(min(3, len(professional)))]
    ideas.append(ELECTIVES[index % len(ELECTIVES)])
    return ideas


def _get_or_add(model, lookup: dict, **values):
    row = db.session.execute(sa.select(model).filter_by(**lookup)).scalar_one_or_none()
    if row is None:
        row = model(**lookup, **values)
        db.session.add(row)
        db.session.flush()
    return row


@cache
def _demo_password_hash() -> str:
    # Every demo account shares the published demo password: hash it once, not once per account.
    return generate_password_hash(DEMO_PASSWORD)


def _user(email: str, name: str, role: Role, region_id: int | None) -> User:
    user = db.session.execute(sa.select(User).filter_by(email=email)).scalar_one_or_none()
    if user is None:
        user = User(email=email, name=name, role=role, region_id=region_id, password_hash=_demo_password_hash())
        db.session.add(user)
        db.session.flush()
    return user


def _disclosure(base_name: str, kind: str) -> dict:
    return {
        "scope": f"面向全市专业技术人员开展{kind}领域的继续教育培训，承接公需科目和专业科目培训任务。",
        "content": f"{kind}领域新理论、新技术、新方法；年度公需科目主题课程；行业急需紧缺人才专项培训。",
        "fee_items": "公需科目线上学习免费；专业科目培训按项目收取培训费（含资料费），标准见各课程页面，"
        "收费标准经主管部门备案。",
        "training_plan": "全年计划举办培训项目不少于 4 个，培训专业技术人员不少于 2000 人次。",
        "staff": f"{base_name}专职教师与行业专家组成的师资库，高级职称占比超过六成。",
        "rules": "继续教育培训管理办法、学员考勤与考核办法、培训档案管理制度、收费管理制度。",
    }


def seed_reference() -> dict[str, Region]:
    """Reference data every installation needs: the regions of the notices and each one's own rules by year
    (hours, conversions, themes, caps, kinds of declared learning, targets, rubric), and the holiday calendar. Idempotent."""
    regions = {}
    for code, name, parent in REGIONS:
        level = RegionLevel.CITY if parent else RegionLevel.PROVINCE
        regions[code] = _get_or_add(
            Region, {"code": code}, name=name, level=level, parent_id=regions[parent].id if parent else None
        )
    # Each region's own rules, as its notice states them; a value no notice states is seeded as a default
    # and listed in ``unconfirmed`` (the regulator's page shows 默认值，待确认 until it is saved).
    with open(DATA_DIR / "hour-rules.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            numbers = {key: int(row[key]) if row[key] else None for key in rules.REQUIREMENTS + rules.CONVERSIONS}
            themes = {key: "\n".join(row[key].split("|")) if row[key] else None for key in rules.THEMES}
            _get_or_add(
                RuleSet, {"region_id": regions[row["region_code"]].id, "year": int(row["year"])},
                source=row["source"], unconfirmed=row["unconfirmed"].split(), **numbers, **themes,
                sector_step={"yes": True, "no": False}.get(row.get("sector_step") or ""),
                sector_recognised=rules.sectors_in_order((row.get("sector_recognised") or "").split("|")),
            )
    with open(DATA_DIR / "targets.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            _get_or_add(
                Target, {"base_type": BaseType(row["base_type"]), "year": int(row["year"]),
                         "region_id": regions[row["region_code"]].id},
                min_trainees=int(row["min_trainees"]), min_projects=int(row["min_projects"]),
            )
    with open(DATA_DIR / "declaration-caps.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            _get_or_add(
                DeclarationCap,
                {"kind": DeclarationKind(row["kind"]), "category": Category(row["category"]),
                 "region_id": regions[row["region_code"]].id, "year": int(row["year"])},
                max_hours=int(row["max_hours"]), source=row["source"],
            )
    # The kinds of declared learning each notice's region accepts (Chengdu's and Yantai's lists; Guangdong and
    # Henan list none, so the general list, every value to confirm), their categories and Chengdu's 20 days.
    with open(DATA_DIR / "declaration-kinds.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            _get_or_add(
                DeclarationKindRule,
                {"region_id": regions[row["region_code"]].id, "year": int(row["year"]),
                 "kind": DeclarationKind(row["kind"])},
                accepted={"yes": True, "no": False}.get(row["accepted"]),
                categories=[Category(c).value for c in row["categories"].split()] or None,
                min_days=int(row["min_days"]) if row["min_days"] else None,
                unconfirmed=row["unconfirmed"].split(), source=row["source"],
            )
    with open(DATA_DIR / "rubrics.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            values = {key: int(row[key]) for key in rules.RUBRIC_FIELDS if key != "missed_target_outcome"}
            _get_or_add(
                Rubric, {"region_id": regions[row["region_code"]].id, "year": int(row["year"])},
                missed_target_outcome=Outcome(row["missed_target_outcome"]), unconfirmed=row["unconfirmed"].split(),
                **values,
            )
    with open(DATA_DIR / "cn-holidays-2025-2026.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            _get_or_add(CalendarDay, {"day": date.fromisoformat(row["date"])},
                        kind=CalendarDayKind(row["kind"]), name=row["name"])
    db.session.commit()
    return regions


def _seed_demo_regulation(regions: dict[str, Region], new_courses: list[Course]) -> None:
    """Chengdu's own city-level targets, and class plans for the demo courses just added that are face to
    face and professional: approved for all but each tenth, which waits in the regulator's queue."""
    regulator = db.session.execute(sa.select(User).filter_by(email=REGULATORS[0][0])).scalar_one()
    for year in RUBRIC_YEARS:
        _get_or_add(Target, {"base_type": BaseType.CITY, "year": year, "region_id": regions["510100"].id},
                    min_trainees=300, min_projects=2, set_by_id=regulator.id)
    for number, course in enumerate(c for c in new_courses if c.needs_class_plan):
        approved = number % 10 != 9
        db.session.add(ClassPlan(
            course_id=course.id, start_date=course.start_date, end_date=course.end_date, place=course.place,
            teachers="张教授（主任医师）、李老师（副教授）", syllabus="第一天：理论讲授\n第二天：实操演练与考核",
            expected_trainees=course.capacity or 50, filed_by_id=course.created_by_id,
            status=PlanStatus.APPROVED if approved else PlanStatus.PENDING,
            decided_by_id=regulator.id if approved else None, decided_at=utcnow() if approved else None,
        ))
        course.plan_status = (PlanStatus.APPROVED if approved else PlanStatus.PENDING).value
    db.session.commit()


@contextmanager
def _commits_without_waiting_for_the_disk():
    """SQLite: the demo's history is some 1,500 small transactions, one per use case; with the default
    synchronous=FULL each waits for the disk (3–5 ms here, 40 % of the seeding). In WAL mode NORMAL keeps
    the database consistent and could lose only the last transactions to a power cut, which for demo data
    is nothing. The pool's connections are closed afterwards, so that none keeps the setting."""
    if db.engine.dialect.name != "sqlite":
        yield
        return

    def normal(dbapi_connection, _record, _proxy):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    sa.event.listen(db.engine, "checkout", normal)
    try:
        yield
    finally:
        sa.event.remove(db.engine, "checkout", normal)
        db.session.commit()
        db.engine.dispose()


def seed_demo() -> dict:
    """Load the demo data (reference data included); return counts of what exists afterwards."""
    with _commits_without_waiting_for_the_disk():
        return _seed_demo()


def _seed_demo() -> dict:
    regions = seed_reference()
    for email, name, code in REGULATORS:
        _user(email, name, Role.REGULATOR, regions[code].id)
    _user(PLATFORM_ADMIN[0], PLATFORM_ADMIN[1], Role.PLATFORM_ADMIN, None)
    employers = {}
    for name, code in DEMO_EMPLOYERS:
        employers[name] = _get_or_add(Employer, {"name": name, "region_id": regions[code].id})
    for email, name, employer in DEMO_REVIEWERS:
        reviewer = _user(email, name, Role.REVIEWER, employers[employer].region_id)
        reviewer.employer_id = reviewer.employer_id or employers[employer].id
    learner = _user("learner@jidi.demo", "陈晓", Role.LEARNER, regions["510100"].id)
    learner.employer_id = learner.employer_id or employers["成都市第一人民医院"].id
    if learner.id_number_hmac is None:
        # A made-up number with a valid GB 11643 check digit; it belongs to nobody.
        number = "51010419900307123"
        number += resident_ids.check_character(number)
        learner.phone = DEMO_LEARNER_PHONE
        learner.id_number_ciphertext = resident_ids.encrypt(number)
        learner.id_number_hmac = resident_ids.fingerprint(number)
        learner.id_number_masked = resident_ids.mask(number)
        learner.employer_name = "成都市第一人民医院"
        learner.sector = "卫生"
        learner.professional_title = "中级"

    today = clock.today()
    new_courses: list[Course] = []
    with open(DATA_DIR / "seed-bases.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for index, row in enumerate(rows):
        city = row["city"]
        region = regions[CITY_CODES[city]]
        kind = _professional_for(row["name"])[0].field
        base = db.session.execute(sa.select(TrainingBase).filter_by(name=row["name"])).scalar_one_or_none()
        if base is None:
            base = TrainingBase(
                name=row["name"], type=BaseType(row["type"]), region_id=region.id, website=row["website"] or "",
                contact_person="培训部 " + "张王李刘陈杨赵黄周吴"[index % 10] + "老师",
                contact_phone=f"{DEMO_PHONE_PREFIX}0001{index + 1:04d}",
                address=f"{region.parent.name}{city}", created_at=DESIGNATED[row["source"]],
                # Every fourth base has not finished its disclosure yet: the evaluation counts that.
                **(_disclosure(row["name"], kind) if index % 4 else {"scope": _disclosure(row["name"], kind)["scope"]}),
            )
            db.session.add(base)
            db.session.flush()
        admin = _user(f"admin{index + 1:02d}@jidi.demo", f"{row['name']}管理员", Role.BASE_ADMIN, region.id)
        _get_or_add(BaseMembership, {"user_id": admin.id, "base_id": base.id})

        # A base's demo courses are added once, when it has none: a course renamed in the site since
        # then must not come back under its old title.
        if db.session.execute(sa.select(Course.id).filter_by(base_id=base.id).limit(1)).first():
            continue
        for number, idea in enumerate(_ideas_for(index, row["name"], city)):
            start = today + timedelta(days=START_OFFSETS[(index + number * 2) % len(START_OFFSETS)])
            online = idea.mode not in IN_PERSON_MODES
            place = {ON: "线上学习平台", LIVE: "线上直播"}.get(idea.mode, f"{row['name']}培训楼 {number + 1}01 教室")
            course = Course(
                base=base, title=idea.title, description=idea.description, category=idea.category,
                field=idea.field, hours=idea.hours, start_date=start, end_date=start + timedelta(days=idea.days - 1),
                mode=idea.mode, place=place,
                audience=idea.audience, capacity=None if online else 40 + (index * 7 + number * 13) % 80,
                fee=Decimal(0) if idea.category == Category.PUBLIC or online else Decimal(300 + 100 * (number + index % 5)),
                contact_person=base.contact_person, contact_phone=base.contact_phone,
                open_to_city=(index + number) % 5 != 0, created_by_id=admin.id,
                # The last idea of every third base stays a draft, so admins see both states.
                status=CourseStatus.DRAFT if number == 4 and index % 3 == 0 else CourseStatus.PUBLISHED,
            )
            course.fee_standard = "免费" if course.fee == 0 else f"每人 {course.fee:.0f} 元（含资料费）"
            course.published_at = utcnow() if course.status == CourseStatus.PUBLISHED else None
            refresh_search_tokens(course, base)
            db.session.add(course)
            new_courses.append(course)
    db.session.commit()
    _seed_demo_regulation(regions, new_courses)
    del new_courses  # the history's many commits would each expire them
    history.seed_history(regions, learner, [row["name"] for row in rows], _ideas_for, _demo_password_hash())
    organisations.seed_organisations(regions, _demo_password_hash())
    messaging.seed_messaging(_demo_password_hash())
    return {
        "regions": db.session.scalar(sa.select(sa.func.count(Region.id))),
        "bases": db.session.scalar(sa.select(sa.func.count(TrainingBase.id))),
        "courses": db.session.scalar(sa.select(sa.func.count(Course.id))),
        "users": db.session.scalar(sa.select(sa.func.count(User.id))),
        "enrollments": db.session.scalar(sa.select(sa.func.count(Enrollment.id))),
    }
